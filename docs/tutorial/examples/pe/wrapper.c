/* A DLL that itself depends on greet.dll: a transitive dependency for --recursive. */
__declspec(dllimport) int greet(int x);
__declspec(dllexport) int wrapped_greet(int x) { return greet(x); }
