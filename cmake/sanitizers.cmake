option(ICOTES_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(ICOTES_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  # GCC 12 raises false -Wmaybe-uninitialized inside libstdc++'s <regex>
  # (pulled in by valijson) once ASan instruments it at -O1.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
endif()
