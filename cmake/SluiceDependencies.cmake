# Finds every third-party dependency. Arrow and Parquet come from the pyarrow wheel (the same
# version the GPU machine has), which ships headers and versioned shared libraries but no CMake
# package files, so they are declared here as imported targets.
find_package(Threads REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

execute_process(
  COMMAND ${Python3_EXECUTABLE} -c "import pyarrow as pa; print(pa.__version__); print(pa.get_include()); print(pa.get_library_dirs()[0])"
  OUTPUT_VARIABLE pyarrow_info RESULT_VARIABLE pyarrow_rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT pyarrow_rc EQUAL 0)
  message(FATAL_ERROR "pyarrow is not importable by ${Python3_EXECUTABLE}; run scripts/bootstrap.sh first")
endif()
string(REPLACE "\n" ";" pyarrow_info "${pyarrow_info}")
list(GET pyarrow_info 0 SLUICE_ARROW_VERSION)
list(GET pyarrow_info 1 ARROW_INCLUDE_DIR)
list(GET pyarrow_info 2 ARROW_LIBRARY_DIR)
string(REGEX MATCH "^([0-9]+)" arrow_major "${SLUICE_ARROW_VERSION}")
set(arrow_soversion "${arrow_major}00")
message(STATUS "Arrow ${SLUICE_ARROW_VERSION} from pyarrow: ${ARROW_LIBRARY_DIR}")

foreach(lib arrow parquet)
  set(path "${ARROW_LIBRARY_DIR}/lib${lib}.so.${arrow_soversion}")
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "${path} not found in the pyarrow wheel")
  endif()
  add_library(Arrow::${lib} SHARED IMPORTED)
  set_target_properties(Arrow::${lib} PROPERTIES
    IMPORTED_LOCATION "${path}"
    IMPORTED_SONAME "lib${lib}.so.${arrow_soversion}"
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${ARROW_INCLUDE_DIR}"
    INTERFACE_INCLUDE_DIRECTORIES "${ARROW_INCLUDE_DIR}")
endforeach()
set_property(TARGET Arrow::parquet PROPERTY INTERFACE_LINK_LIBRARIES Arrow::arrow)
# The binary finds the wheel's libraries where they were at build time; elsewhere, LD_LIBRARY_PATH.
set(CMAKE_BUILD_RPATH "${ARROW_LIBRARY_DIR}")
set(CMAKE_INSTALL_RPATH "${ARROW_LIBRARY_DIR}")

find_package(dnnl CONFIG QUIET)
if(NOT TARGET DNNL::dnnl)
  find_library(DNNL_LIBRARY dnnl REQUIRED)
  add_library(DNNL::dnnl UNKNOWN IMPORTED)
  set_target_properties(DNNL::dnnl PROPERTIES IMPORTED_LOCATION "${DNNL_LIBRARY}")
endif()

find_package(JPEG REQUIRED)
find_library(SPNG_LIBRARY spng REQUIRED)
find_path(SPNG_INCLUDE_DIR spng.h REQUIRED)
add_library(spng::spng UNKNOWN IMPORTED)
set_target_properties(spng::spng PROPERTIES IMPORTED_LOCATION "${SPNG_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${SPNG_INCLUDE_DIR}")

find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(GTest REQUIRED)

# Real photographs for `sluice datagen`, shipped by the scikit-image wheel.
execute_process(
  COMMAND ${Python3_EXECUTABLE} -c "import skimage, os; print(os.path.join(os.path.dirname(skimage.__file__), 'data'))"
  OUTPUT_VARIABLE SLUICE_PHOTO_DIR RESULT_VARIABLE skimage_rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT skimage_rc EQUAL 0)
  set(SLUICE_PHOTO_DIR "")
  message(WARNING "scikit-image not found: `sluice datagen` will need --photos DIR")
endif()

# The CUDA backend: built wherever nvcc and cuDNN are found (a GPU is only needed to run it).
# SLUICE_WITH_CUDA=OFF builds a CPU-only sluice even then.
option(SLUICE_WITH_CUDA "Build the CUDA backend when nvcc and cuDNN are found" ON)
if(SLUICE_WITH_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # T4 (the reference benchmark's GPUs), A100, H100.
      set(CMAKE_CUDA_ARCHITECTURES 75 80 90)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include /usr/include)
    find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9
      HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib /usr/local/cuda/lib /usr/local/cuda/lib64)
  endif()
  if(CMAKE_CUDA_COMPILER AND CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY)
    add_library(sluice::cudnn SHARED IMPORTED)
    set_target_properties(sluice::cudnn PROPERTIES IMPORTED_LOCATION "${CUDNN_LIBRARY}"
      INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${CUDNN_INCLUDE_DIR}")
    message(STATUS "CUDA backend: nvcc ${CMAKE_CUDA_COMPILER_VERSION}, cuDNN ${CUDNN_LIBRARY}")
  else()
    message(WARNING "CUDA backend not built: nvcc or cuDNN not found (sluice runs on the CPU only)")
    set(SLUICE_WITH_CUDA OFF)
  endif()
endif()

# nvJPEG (GPU JPEG decoding), optional: `--decode gpu` needs it, everything else builds without.
# Looked for in the CUDA toolkit first (the GPU machine's has it), then in the nvidia-nvjpeg wheel
# (nvidia/cu13 for 13.x wheels, nvidia/nvjpeg for older ones), which scripts/bootstrap.sh installs
# so that machines whose toolkit lacks it still compile the GPU decoder.
option(SLUICE_WITH_NVJPEG "Build the nvJPEG GPU decoder when nvJPEG is found (needs the CUDA backend)" ON)
if(SLUICE_WITH_CUDA AND SLUICE_WITH_NVJPEG)
  execute_process(
    COMMAND ${Python3_EXECUTABLE} -c "import importlib.util; s = importlib.util.find_spec('nvidia'); print(';'.join(s.submodule_search_locations) if s else '')"
    OUTPUT_VARIABLE nvidia_wheel_dirs OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  set(nvjpeg_wheel_hints "")
  foreach(dir IN LISTS nvidia_wheel_dirs)
    list(APPEND nvjpeg_wheel_hints "${dir}/cu${CUDAToolkit_VERSION_MAJOR}" "${dir}/nvjpeg")
  endforeach()
  set(nvjpeg_include_hints ${CUDAToolkit_INCLUDE_DIRS})
  set(nvjpeg_library_hints ${CUDAToolkit_LIBRARY_DIR})
  foreach(dir IN LISTS nvjpeg_wheel_hints)
    list(APPEND nvjpeg_include_hints "${dir}/include")
    list(APPEND nvjpeg_library_hints "${dir}/lib")
  endforeach()
  find_path(NVJPEG_INCLUDE_DIR nvjpeg.h HINTS ${nvjpeg_include_hints} NO_DEFAULT_PATH)
  # Wheels ship only the versioned library, which must match the toolkit's major version.
  find_library(NVJPEG_LIBRARY NAMES nvjpeg libnvjpeg.so.${CUDAToolkit_VERSION_MAJOR}
    HINTS ${nvjpeg_library_hints} NO_DEFAULT_PATH)
  if(NVJPEG_INCLUDE_DIR AND NVJPEG_LIBRARY)
    add_library(sluice::nvjpeg SHARED IMPORTED)
    set_target_properties(sluice::nvjpeg PROPERTIES IMPORTED_LOCATION "${NVJPEG_LIBRARY}"
      IMPORTED_SONAME "libnvjpeg.so.${CUDAToolkit_VERSION_MAJOR}"
      INTERFACE_INCLUDE_DIRECTORIES "${NVJPEG_INCLUDE_DIR}")
    get_filename_component(nvjpeg_library_dir "${NVJPEG_LIBRARY}" DIRECTORY)
    list(APPEND CMAKE_BUILD_RPATH "${nvjpeg_library_dir}")
    message(STATUS "nvJPEG GPU decoder: ${NVJPEG_LIBRARY}")
  else()
    message(STATUS "nvJPEG not found (CUDA toolkit or `pip install nvidia-nvjpeg`): no GPU JPEG decoding")
    set(SLUICE_WITH_NVJPEG OFF)
  endif()
else()
  set(SLUICE_WITH_NVJPEG OFF)
endif()
