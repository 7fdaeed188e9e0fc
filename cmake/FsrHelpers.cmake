# Declarative helpers so that each folder's CMakeLists.txt is a plain list (after Abseil's
# absl_cc_library and Ceres' ceres_test).
#
#   fsr_library(NAME theory SRCS a.cpp b.cpp DEPS fsr::core Eigen3::Eigen)
#   fsr_test(NAME relu_moments_test SRCS relu_moments_test.cpp DEPS fsr::theory)
#   fsr_bench(NAME match_columns_bench SRCS match_columns_bench.cpp DEPS fsr::theory)
#   fsr_fuzz(NAME npy_fuzz SRCS npy_fuzz.cpp DEPS fsr::core SEEDS reports/fixtures/*.npy)
include_guard(GLOBAL)

function(fsr_library)
  cmake_parse_arguments(FSR "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(fsr_${FSR_NAME} ${FSR_SRCS})
  add_library(fsr::${FSR_NAME} ALIAS fsr_${FSR_NAME})
  target_include_directories(fsr_${FSR_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(fsr_${FSR_NAME} PUBLIC ${FSR_DEPS} PRIVATE ${FSR_PRIVATE_DEPS} fsr_warnings)
endfunction()

function(fsr_test)
  cmake_parse_arguments(FSR "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT FSR_BUILD_TESTS)
    return()
  endif()
  add_executable(${FSR_NAME} ${FSR_SRCS})
  target_link_libraries(${FSR_NAME} PRIVATE ${FSR_DEPS} GTest::gtest GTest::gtest_main fsr_warnings)
  if(NOT FSR_TIMEOUT)
    set(FSR_TIMEOUT 300)
  endif()
  # One ctest entry per gtest case, discovered when ctest runs (not at build time).
  gtest_discover_tests(${FSR_NAME} DISCOVERY_MODE PRE_TEST
                       PROPERTIES TIMEOUT ${FSR_TIMEOUT} LABELS "${FSR_LABELS}")
endfunction()

function(fsr_bench)
  cmake_parse_arguments(FSR "" "NAME" "SRCS;DEPS" ${ARGN})
  if(NOT FSR_BUILD_BENCH)
    return()
  endif()
  add_executable(${FSR_NAME} ${FSR_SRCS})
  target_link_libraries(${FSR_NAME} PRIVATE ${FSR_DEPS} benchmark::benchmark fsr_warnings)
endfunction()

# A libFuzzer target (only with FSR_FUZZ) and its ctest: scripts/fuzz.sh runs it for
# FSR_FUZZ_SECONDS from a corpus seeded with SEEDS (globs relative to the source tree), with the
# libFuzzer dictionary DICT if given, under the sanitizers of the build. Its crash inputs land in
# <build>/fuzz/<name>/.
function(fsr_fuzz)
  cmake_parse_arguments(FSR "" "NAME;DICT" "SRCS;DEPS;SEEDS" ${ARGN})
  if(NOT FSR_FUZZ)
    return()
  endif()
  add_executable(${FSR_NAME} ${FSR_SRCS})
  target_link_libraries(${FSR_NAME} PRIVATE ${FSR_DEPS} fsr_warnings)
  target_link_options(${FSR_NAME} PRIVATE -fsanitize=fuzzer)
  target_compile_definitions(${FSR_NAME} PRIVATE FSR_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  set(seeds "")
  foreach(pattern IN LISTS FSR_SEEDS)
    file(GLOB_RECURSE found "${PROJECT_SOURCE_DIR}/${pattern}")
    list(APPEND seeds ${found})
  endforeach()
  if(NOT seeds)
    message(FATAL_ERROR "fsr_fuzz(${FSR_NAME}): SEEDS match no file")
  endif()
  set(dict "")
  if(FSR_DICT)
    set(dict --dict ${PROJECT_SOURCE_DIR}/${FSR_DICT})
  endif()
  add_test(NAME ${FSR_NAME}
           COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh --seconds ${FSR_FUZZ_SECONDS}
                   --work ${CMAKE_BINARY_DIR}/fuzz/${FSR_NAME} ${dict}
                   $<TARGET_FILE:${FSR_NAME}> ${seeds})
  math(EXPR timeout "${FSR_FUZZ_SECONDS} + 120")
  set_tests_properties(${FSR_NAME} PROPERTIES TIMEOUT ${timeout} LABELS fuzz)
endfunction()
