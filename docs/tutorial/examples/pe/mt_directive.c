/* An object file that carries the linker directive a /MT compile leaves behind.
 *
 * cl.exe /MT writes "/DEFAULTLIB:LIBCMT" (and /MD "/DEFAULTLIB:MSVCRT") into the
 * .drectve section of every object file; the linker reads it, and static libraries
 * built from such objects carry it into every link they join. MinGW's gcc does not
 * write these directives, so this file adds one by hand, to show on Linux where the
 * information sits and how to read it (chapter 11). */
int mt_answer(void) { return 42; }

__asm__(".section .drectve\n"
        ".ascii \" /DEFAULTLIB:LIBCMT /DEFAULTLIB:OLDNAMES\"\n"
        ".text");
