# Declarative helpers so that each folder's CMakeLists.txt is a plain list (after Abseil's
# absl_cc_library and Ceres' ceres_test).
#
#   fsr_library(NAME theory SRCS a.cpp b.cpp DEPS fsr::core Eigen3::Eigen)
#   fsr_test(NAME relu_moments_test SRCS relu_moments_test.cpp DEPS fsr::theory)
#   fsr_bench(NAME match_columns_bench SRCS match_columns_bench.cpp DEPS fsr::theory)
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
