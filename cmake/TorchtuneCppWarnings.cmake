# One place for warning flags: tt_set_warnings(<target>).
#
# GCC 13 (Ubuntu 24.04's; Debian 12 has GCC 12) reports correct code with some of its
# flow-based warnings, which with warnings as errors would stop the build there only, so
# they are off from GCC 13 on:
#   -Wdangling-reference: any `const T& x = f(..., temporary)`, also when f returns a
#     reference into another argument (a lookup in a record);
#   -Warray-bounds, -Wstringop-overflow (and their kin -Wstringop-overread, -Wrestrict):
#     the memmove of std::vector<bool>::reserve, inlined at -O3 from LibTorch's
#     torch::autograd::Function::apply (custom_function.h); known GCC 13 false positives.
function(tt_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 13)
    target_compile_options(${target} PRIVATE -Wno-dangling-reference -Wno-array-bounds -Wno-stringop-overflow
                                             -Wno-stringop-overread -Wno-restrict)
  endif()
  if(TT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
