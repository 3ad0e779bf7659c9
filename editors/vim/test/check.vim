" Asserts the syntax groups that syntax/tfe.vim gives to tokens of sample files.
" Run by run.sh: vim -Nu NONE -i NONE -es --cmd 'let g:tfe_root=...' -S check.vim
" Each Expect(needle, group[, nth]) finds the nth occurrence of the literal text in the
" current buffer and requires every character of it to have that syntax group ('' = none).
let s:passed = 0
let s:failed = []

function! s:Expect(needle, group, ...) abort
  " The asserted part may be marked inside its context: 'for epoch <<in>> 0'.
  let nth = a:0 ? a:1 : 1
  let text = substitute(a:needle, '<<\|>>', '', 'g')
  let start = stridx(a:needle, '<<')
  let len = start < 0 ? strlen(text) : stridx(a:needle, '>>') - start - 2
  let start = start < 0 ? 0 : start
  call cursor(1, 1)
  let flags = 'cW'
  let pos = [0, 0]
  for i in range(nth)
    let pos = searchpos('\V' . escape(text, '\'), flags)
    let flags = 'W'
  endfor
  let where = expand('%:t') . ': ' . string(a:needle) . (nth > 1 ? ' #' . nth : '')
  if pos == [0, 0]
    call add(s:failed, where . ': not found')
    return
  endif
  for col in range(pos[1] + start, pos[1] + start + len - 1)
    let name = synIDattr(synID(pos[0], col, 1), 'name')
    if name !=# a:group
      call add(s:failed, printf('%s: line %d col %d is %s, expected %s',
            \ where, pos[0], col, string(name), string(a:group)))
      return
    endif
  endfor
  let s:passed += 1
endfunction

function! s:Open(path) abort
  execute 'edit! ' . fnameescape(a:path)
  if &filetype !=# 'tfe'
    call add(s:failed, a:path . ': filetype is ' . string(&filetype) . ', expected tfe (ftdetect)')
  elseif get(b:, 'current_syntax', '') !=# 'tfe'
    call add(s:failed, a:path . ': syntax/tfe.vim was not loaded')
  else
    let s:passed += 1
  endif
endfunction

let v:errmsg = ''
execute 'set runtimepath^=' . fnameescape(g:tfe_root . '/vim')
filetype plugin on
syntax on

" The program of the language design, section 2.
call s:Open(g:tfe_root . '/fixtures/sketch.tfe')
call s:Expect('// Two hospitals', 'tfeLineComment')
call s:Expect('use', 'tfeInclude')
call s:Expect('std', 'tfeNamespace')
call s:Expect('::', 'tfeNamespaceSep')
call s:Expect('party', 'tfeDeclaration', 2)
call s:Expect('secret', 'tfeDeclaration', 2)
call s:Expect('rep', 'tfeSecretName')
call s:Expect('aby3', 'tfeProtocol')
call s:Expect('const', 'tfeDeclaration')
call s:Expect('EPOCHS', 'tfeConstName')
call s:Expect('EPOCHS: <<int>> = 10', 'tfeType')
call s:Expect('10', 'tfeInteger')
call s:Expect('0.5', 'tfeFixed')
call s:Expect('fn', 'tfeDeclaration')
call s:Expect('main', 'tfeFuncName')
call s:Expect('let', 'tfeDeclaration')
call s:Expect('xa', 'tfeBinding')
call s:Expect('let xa: <<fixed>>[_, 30]', 'tfeType')
call s:Expect('let xa: fixed[<<_>>, 30]', 'tfeWildcard')
call s:Expect('@alice', 'tfePlacement')
call s:Expect('@rep', 'tfePlacement')
call s:Expect('read_csv', 'tfeBuiltin')
call s:Expect('"alice_x.csv"', 'tfeString')
call s:Expect('concat', 'tfeBuiltin')
call s:Expect('axis', 'tfeParameter')
call s:Expect('mut', 'tfeModifier')
call s:Expect('zeros', 'tfeBuiltin')
call s:Expect('for', 'tfeRepeat')
call s:Expect('for <<epoch>> in', '')
call s:Expect('for epoch <<in>> 0', 'tfeRepeat')
call s:Expect('in <<0>>..EPOCHS', 'tfeInteger')
call s:Expect('..', 'tfeRange')
call s:Expect('0..<<EPOCHS>> {', 'tfeConstant')
call s:Expect('rows', 'tfeBuiltin')
call s:Expect('rows(x) <</>> BATCH', 'tfeOperator')
call s:Expect('<<sigmoid>>(matmul', 'tfeFuncCall')
call s:Expect('matmul', 'tfeBuiltin')
call s:Expect('transpose', 'tfeBuiltin')
call s:Expect('sum', 'tfeBuiltin')
call s:Expect('write_csv', 'tfeBuiltin')
call s:Expect('reveal', 'tfeBuiltin')
call s:Expect('<<to>>: analyst', 'tfeParameter')
call s:Expect('sigmoid<<;>>', 'tfeDelimiter')
call s:Expect('(s0<<,>> s1', 'tfeDelimiter')
call s:Expect('xa<<:>> fixed', 'tfeDelimiter')
call s:Expect('<<=>> read_csv', 'tfeOperator')
call s:Expect('i <<*>> BATCH', 'tfeOperator')
call s:Expect('(i <<+>> 1)', 'tfeOperator')
call s:Expect('b) <<->> yi', 'tfeOperator')

" Edge cases: nested comments, escapes, unterminated strings, numbers, invalid characters.
call s:Open(g:tfe_root . '/vim/test/sample.tfe')
call s:Expect('/* outer /* inner */ still outer */', 'tfeBlockComment')
call s:Expect('after_nest', 'tfeBinding')
call s:Expect('1', 'tfeInteger')
call s:Expect('let hidden = 2; // still inside', 'tfeBlockComment')
call s:Expect('K2', 'tfeConstName')
call s:Expect('\t', 'tfeEscape')
call s:Expect('\"', 'tfeEscape')
call s:Expect('\\', 'tfeEscape')
call s:Expect('\0', 'tfeEscape')
call s:Expect('\q', 'tfeEscapeError')
call s:Expect(' end"', 'tfeString')
call s:Expect('4', 'tfeInteger')
call s:Expect('"no closing quote', 'tfeString')
call s:Expect('next_line', 'tfeBinding')
call s:Expect('42', 'tfeInteger')
call s:Expect('1_000', 'tfeInteger')
call s:Expect('0.5', 'tfeFixed')
call s:Expect('3.25e-3', 'tfeFixed')
call s:Expect('1e6', 'tfeFixed')
call s:Expect('0', 'tfeInteger', 5)
call s:Expect('..', 'tfeRange')
call s:Expect('10', 'tfeInteger')
call s:Expect('a<<.>>b', 'tfeAccessor')
call s:Expect('a.<<b>>', 'tfeField')
call s:Expect('max', 'tfeBuiltin')
call s:Expect('argmax', 'tfeBuiltin')
call s:Expect('read_npy', 'tfeBuiltin')
call s:Expect('write_npy', 'tfeBuiltin')
call s:Expect('write_shares', 'tfeBuiltin')
call s:Expect('read_shares', 'tfeBuiltin')
call s:Expect('$', 'tfeError')
call s:Expect('#', 'tfeError')
call s:Expect('pond', 'tfeProtocol')
call s:Expect('securenn', 'tfeProtocol')
call s:Expect('dealer', '')
call s:Expect('@public', 'tfePlacement')
call s:Expect('reveals', 'tfeModifier')
call s:Expect('reveals(<<public>>)', 'tfePublic')
call s:Expect('->', 'tfeOperator')
call s:Expect('let nums <<=>>', 'tfeOperator')
call s:Expect('<<!=>>', 'tfeOperator')
call s:Expect('<<&&>>', 'tfeOperator')
call s:Expect('<<||>>', 'tfeOperator')
call s:Expect('<<<=>>', 'tfeOperator')
call s:Expect('<<&>> e', 'tfeError')
call s:Expect('true', 'tfeBoolean')
call s:Expect('if', 'tfeConditional')
call s:Expect('else', 'tfeConditional')
call s:Expect('while', 'tfeRepeat')
call s:Expect('return', 'tfeStatement')
call s:Expect('<<on>> alice', 'tfeStatement')
call s:Expect('float', 'tfeType')
call s:Expect('bool', 'tfeType')
call s:Expect('<<@>> b', 'tfeError')
call s:Expect('<<W2>> +', 'tfeConstant')
call s:Expect('<<my_fn2>>(', 'tfeFuncCall')
call s:Expect('struct', 'tfeDeclaration')
call s:Expect('struct <<Mlp>>', 'tfeStructName')
call s:Expect('m: <<Mlp>>', 'tfeTypeName')
call s:Expect('Mlp { w: <<m>>', '')
call s:Expect('m.<<w>> +', 'tfeField')
call s:Expect('m<<.>>w +', 'tfeAccessor')
call s:Expect('0<<..>>n', 'tfeRange')
call s:Expect('0..<<n>>', '')
call s:Expect('zeros_like', 'tfeBuiltin')
call s:Expect('value_and_grad', 'tfeBuiltin')
call s:Expect('<<grad>>(x: sig', 'tfeBuiltin')

let s:total = s:passed + len(s:failed)
if v:errmsg !=# ''
  call add(s:failed, 'vim reported an error: ' . v:errmsg)
endif
let s:out = s:failed + [printf('vim: %d passed, %d failed', s:passed, len(s:failed))]
call writefile(s:out, g:tfe_out)
if empty(s:failed)
  qall!
else
  cquit!
endif
