# One place for warning flags: tt_set_warnings(<target>).
function(tt_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
  if(TT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
