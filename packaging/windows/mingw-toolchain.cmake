# CMake toolchain for the C libraries that crates build with CMake (libopus through audiopus_sys)
# when scripts/windows.sh cross-builds the Windows app with mingw-w64 on Linux.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# libopus turns on -fstack-protector-strong and _FORTIFY_SOURCE where the compiler has them; with
# mingw-w64 their runtime is libssp-0.dll, which no Windows machine has (the .exe would not
# start). Rust's own code is memory-safe; the codec's C is built as most Windows builds of it are.
set(OPUS_STACK_PROTECTOR OFF CACHE BOOL "" FORCE)
set(OPUS_FORTIFY_SOURCE OFF CACHE BOOL "" FORCE)
