# Finds every dependency from the system or the torch wheel; nothing is downloaded.
#   LibTorch: the `torch` wheel from PyPI (or any LibTorch 2.x) through CMAKE_PREFIX_PATH
#   yaml-cpp, nlohmann_json, SentencePiece, GoogleTest: Debian packages
#   Gloo headers (libgloo-dev): for ProcessGroupGloo; the wheel ships the library, not them.
#     Where they cannot be installed, Debian's package unpacked into .deps/root/ serves
#     (scripts/fetch_offline_deps.sh); installed ones come first.

# LibTorch's CMake config adds -gencode flags to CMAKE_CUDA_FLAGS for every architecture it
# guesses (without a GPU: all of them, some of which a recent nvcc no longer compiles); our
# kernels target sm_80 and sm_90 unless TORCH_CUDA_ARCH_LIST says otherwise.
if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(TORCH_CUDA_ARCH_LIST "8.0;9.0")
endif()
find_package(Torch REQUIRED)
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)
# yaml-cpp 0.7 (Debian 12) exports `yaml-cpp`; 0.8 exports `yaml-cpp::yaml-cpp`.
if(TARGET yaml-cpp::yaml-cpp)
  set(TT_YAML_CPP_TARGET yaml-cpp::yaml-cpp)
else()
  set(TT_YAML_CPP_TARGET yaml-cpp)
endif()
find_package(nlohmann_json 3.10 REQUIRED)
find_package(SentencePiece REQUIRED)

# A cached folder that lost its headers (.deps/ removed, say) is searched for again.
if(TT_GLOO_INCLUDE_DIR AND NOT EXISTS "${TT_GLOO_INCLUDE_DIR}/gloo/algorithm.h")
  unset(TT_GLOO_INCLUDE_DIR CACHE)
endif()
find_path(TT_GLOO_INCLUDE_DIR gloo/algorithm.h PATHS "${PROJECT_SOURCE_DIR}/.deps/root/usr/include"
          DOC "Gloo headers (Debian: libgloo-dev)")
if(TT_GLOO_INCLUDE_DIR)
  message(STATUS "torchtune_cpp: Gloo headers in ${TT_GLOO_INCLUDE_DIR} (CPU process groups on)")
else()
  message(STATUS "torchtune_cpp: no Gloo headers; CPU process groups off (install libgloo-dev, "
                 "or carry them in .deps/: scripts/fetch_offline_deps.sh)")
endif()

# CUDA: on when this LibTorch was built with it (the PyPI wheel is), unless turned off.
set(TT_CUDA_ENABLED OFF)
if(TORCH_CUDA_LIBRARIES OR TARGET torch_cuda)
  if(NOT TT_WITH_CUDA STREQUAL "OFF")
    set(TT_CUDA_ENABLED ON)
  endif()
elseif(TT_WITH_CUDA STREQUAL "ON")
  message(FATAL_ERROR "TT_WITH_CUDA=ON but this LibTorch has no CUDA; point CMAKE_PREFIX_PATH at a CUDA build")
endif()
message(STATUS "torchtune_cpp: LibTorch ${Torch_VERSION}, CUDA ${TT_CUDA_ENABLED}")

# The fused CUDA kernels (torchtune_cpp/modules/*.cu): compiled by the CUDA toolkit's nvcc
# when LibTorch has CUDA, for sm_80 and sm_90 unless CMAKE_CUDA_ARCHITECTURES says otherwise.
# Without nvcc the library is built without them and every op takes its LibTorch path.
set(TT_CUDA_KERNELS "AUTO" CACHE STRING "Build the fused CUDA kernels (ON/OFF/AUTO: when LibTorch has CUDA and nvcc is found)")
set(TT_CUDA_KERNELS_ENABLED OFF)
if(TT_CUDA_ENABLED AND NOT TT_CUDA_KERNELS STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND CUDAToolkit_BIN_DIR AND EXISTS "${CUDAToolkit_BIN_DIR}/nvcc")
    set(CMAKE_CUDA_COMPILER "${CUDAToolkit_BIN_DIR}/nvcc")
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    set(TT_CUDA_KERNELS_ENABLED ON)
  endif()
endif()
if(TT_CUDA_KERNELS STREQUAL "ON" AND NOT TT_CUDA_KERNELS_ENABLED)
  message(FATAL_ERROR "TT_CUDA_KERNELS=ON but no CUDA compiler was found (or LibTorch has no CUDA); set CMAKE_CUDA_COMPILER")
endif()
message(STATUS "torchtune_cpp: fused CUDA kernels ${TT_CUDA_KERNELS_ENABLED}")

# The shared C++ runtime, linked first by path (see torchtune_cpp/CMakeLists.txt).
execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libstdc++.so.6
                OUTPUT_VARIABLE _tt_stdcxx OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT IS_ABSOLUTE "${_tt_stdcxx}")
  find_library(_tt_stdcxx_found NAMES libstdc++.so.6 stdc++ REQUIRED)
  set(_tt_stdcxx "${_tt_stdcxx_found}")
endif()
get_filename_component(TT_LIBSTDCXX "${_tt_stdcxx}" REALPATH)
message(STATUS "torchtune_cpp: C++ runtime ${TT_LIBSTDCXX}")
