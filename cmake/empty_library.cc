// Compiled into a library whose folder has no sources yet (see sluice_library in CMakeLists.txt).
