" Vim syntax file
" Language:    tfe (.tfe choreographies for secure multi-party computation)
" Maintainer:  the tfe project (editors/vim)
" The token classes follow the lexer, grammar/src/token.rs, which is authoritative; the
" VS Code grammar (editors/vscode/syntaxes/tfe.tmLanguage.json) covers the same classes.

if exists("b:current_syntax")
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match
syn iskeyword a-z,A-Z,48-57,_

" Any character the lexer rejects ($, #, a lone & | @, ...). Defined first, so that
" every other item wins over it.
syn match   tfeError          #[^[:space:]a-zA-Z0-9_(){}[\],;:.=+*/%<>!&|@"-]#
syn match   tfeError          "[&|@]"

" Identifiers and names. Later definitions win when two matches start at one column.
syn match   tfeParameter      "\<\h\w*\ze\s*:\%(:\)\@!"
syn match   tfeConstant       "\<\u[A-Z0-9_]*\>"
syn match   tfeFuncCall       "\<\h\w*\ze\s*("
syn match   tfeBuiltin        "\<\%(read_csv\|write_csv\|read_npy\|write_npy\|write_shares\|read_shares\|print\|reveal\|zeros\|ones\|rows\|shape\|concat\|transpose\|im2col\|col2im\|log2_lookup\|reshape\|sum\|max\|argmax\|matmul\|select\|zeros_like\|grad\|value_and_grad\)\ze\s*("
syn match   tfeProtocol       "\<\%(aby3\|pond\|securenn\)\ze\s*("
syn match   tfeNamespace      "\<\h\w*\ze\s*::"
syn match   tfeWildcard       "\<_\>"
syn match   tfeFuncName       "\%(\<fn\s\+\)\@<=\h\w*"
syn match   tfeConstName      "\%(\<const\s\+\)\@<=\h\w*"
syn match   tfeBinding        "\%(\<let\s\+\%(mut\s\+\)\=\)\@<=\h\w*"
syn match   tfeSecretName     "\%(\<secret\s\+\)\@<=\h\w*"
" CamelCase names (Mlp, Linear) are struct types by convention.
syn match   tfeTypeName       "\<\u\l\w*\>"
syn match   tfeStructName     "\%(\<struct\s\+\)\@<=\h\w*"
" m.w: a field of a struct.
syn match   tfeAccessor       "\.\@<!\.\.\@!\ze\s*\h"
syn match   tfeField          "\%(\%(^\|[^.]\)\.\s*\)\@<=\h\w*"

" Keywords (these take precedence over the matches above).
syn keyword tfeConditional    if else
syn keyword tfeRepeat         for in while
syn keyword tfeStatement      return on
syn keyword tfeInclude        use
syn keyword tfeDeclaration    party secret const struct fn let
syn keyword tfeModifier       mut reveals
syn keyword tfeBoolean        true false
syn keyword tfePublic         public
syn keyword tfeType           fixed int bool float

" @name is always a placement, @public included.
syn match   tfePlacement      "@\h\w*"

" Numbers: integers 0, 42, 1_000; fixed-point reals 0.5, 3.25e-3, 1e6. A dot must be
" followed by a digit, so 0..10 is an integer, the range operator and an integer.
syn match   tfeInteger        "\<\d[0-9_]*"
syn match   tfeFixed          "\<\d[0-9_]*\%(\.\d[0-9_]*\%([eE][+-]\=\d\+\)\=\|[eE][+-]\=\d\+\)"

" Operators and punctuation.
syn match   tfeOperator       "[-+*/%=<>!]"
syn match   tfeOperator       "==\|!=\|<=\|>=\|&&\|||\|->"
syn match   tfeRange          "\.\."
syn match   tfeDelimiter      "[,;:]"
syn match   tfeNamespaceSep   "::"

" Strings do not span lines; escapes are \\ \" \n \t \r \0.
syn match   tfeEscape         contained +\\[\\"ntr0]+
syn match   tfeEscapeError    contained +\\[^\\"ntr0]+
syn region  tfeString         start=+"+ skip=+\\[\\"]+ end=+"+ end=+$+ contains=tfeEscape,tfeEscapeError,@Spell

" Comments: // to the end of the line; /* */ nests.
syn keyword tfeTodo           contained TODO FIXME XXX NOTE
syn match   tfeLineComment    "//.*$" contains=tfeTodo,@Spell
syn region  tfeBlockComment   start="/\*" end="\*/" contains=tfeBlockComment,tfeTodo,@Spell fold

" Nesting comments need the state from the start of the file (tfe files are small).
syn sync fromstart

hi def link tfeError          Error
hi def link tfeEscapeError    Error
hi def link tfeParameter      Identifier
hi def link tfeConstant       Constant
hi def link tfeConstName      Constant
hi def link tfeFuncCall       Function
hi def link tfeFuncName       Function
hi def link tfeBuiltin        Function
hi def link tfeProtocol       Type
hi def link tfeNamespace      Include
hi def link tfeWildcard       Special
hi def link tfeBinding        Identifier
hi def link tfeSecretName     Identifier
hi def link tfeStructName     Type
hi def link tfeTypeName       Type
hi def link tfeAccessor       Delimiter
hi def link tfeField          Identifier
hi def link tfeConditional    Conditional
hi def link tfeRepeat         Repeat
hi def link tfeStatement      Statement
hi def link tfeInclude        Include
hi def link tfeDeclaration    Keyword
hi def link tfeModifier       StorageClass
hi def link tfeBoolean        Boolean
hi def link tfePublic         StorageClass
hi def link tfeType           Type
hi def link tfePlacement      Special
hi def link tfeInteger        Number
hi def link tfeFixed          Float
hi def link tfeOperator       Operator
hi def link tfeRange          Operator
hi def link tfeNamespaceSep   Delimiter
hi def link tfeDelimiter      Delimiter
hi def link tfeString         String
hi def link tfeEscape         SpecialChar
hi def link tfeTodo           Todo
hi def link tfeLineComment    Comment
hi def link tfeBlockComment   Comment

let b:current_syntax = "tfe"

let &cpo = s:cpo_save
unlet s:cpo_save
