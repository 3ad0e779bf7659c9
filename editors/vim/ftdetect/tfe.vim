" .tfe files are tfe programs.
autocmd BufRead,BufNewFile *.tfe setfiletype tfe
