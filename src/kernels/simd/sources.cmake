# The SIMD kernel sources and their per-file ISA flags, shared by the main build
# (src/kernels/simd/CMakeLists.txt) and the standalone cross-build (tests/kernels/simd/cross).
#
# edgellm_simd_sources(<target>) adds the sources to <target>: the common files, then the
# family for the target CPU (x86-64 or aarch64; others get the scalar level only). Each level's
# file gets its own -m flags, so the rest of the target stays baseline.
set(EDGELLM_SIMD_DIR ${CMAKE_CURRENT_LIST_DIR})

function(edgellm_simd_sources target)
  set(d ${EDGELLM_SIMD_DIR})
  target_sources(${target} PRIVATE
    ${d}/cpu_features.cpp ${d}/dispatch.cpp ${d}/kernels_scalar.cpp ${d}/quantize_ref.cpp
    ${d}/roofline.cpp ${d}/stream_tuning.cpp)
  string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" cpu)
  if(cpu MATCHES "^(x86_64|amd64|x64)$")
    set(avx2 -mavx2 -mfma -mf16c)
    set(avx512 ${avx2} -mavx512f -mavx512bw -mavx512vl -mavx512dq)
    target_sources(${target} PRIVATE ${d}/cpu_probe_x86.cpp ${d}/isa_list_x86.cpp
      ${d}/kernels_avx2.cpp ${d}/kernels_avxvnni.cpp ${d}/kernels_avx512.cpp ${d}/kernels_avx512vnni.cpp)
    set_source_files_properties(${d}/kernels_avx2.cpp TARGET_DIRECTORY ${target}
      PROPERTIES COMPILE_OPTIONS "${avx2}")
    set_source_files_properties(${d}/kernels_avxvnni.cpp TARGET_DIRECTORY ${target}
      PROPERTIES COMPILE_OPTIONS "${avx2};-mavxvnni")
    set_source_files_properties(${d}/kernels_avx512.cpp TARGET_DIRECTORY ${target}
      PROPERTIES COMPILE_OPTIONS "${avx512}")
    set_source_files_properties(${d}/kernels_avx512vnni.cpp TARGET_DIRECTORY ${target}
      PROPERTIES COMPILE_OPTIONS "${avx512};-mavx512vnni")
  elseif(cpu MATCHES "^(aarch64|arm64)$")
    target_sources(${target} PRIVATE ${d}/cpu_probe_arm.cpp ${d}/isa_list_arm.cpp
      ${d}/kernels_neon.cpp ${d}/kernels_neon_dotprod.cpp ${d}/kernels_neon_i8mm.cpp)
    set_source_files_properties(${d}/kernels_neon_dotprod.cpp TARGET_DIRECTORY ${target}
      PROPERTIES COMPILE_OPTIONS "-march=armv8.2-a+dotprod+fp16")
    set_source_files_properties(${d}/kernels_neon_i8mm.cpp TARGET_DIRECTORY ${target}
      PROPERTIES COMPILE_OPTIONS "-march=armv8.2-a+dotprod+i8mm+fp16")
  else()
    target_sources(${target} PRIVATE ${d}/cpu_probe_other.cpp ${d}/isa_list_none.cpp)
  endif()
endfunction()
