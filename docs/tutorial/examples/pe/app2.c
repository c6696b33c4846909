/* An executable that needs wrapper.dll, which in turn needs greet.dll. */
__declspec(dllimport) int wrapped_greet(int x);
int main(void) { return wrapped_greet(41) == 42 ? 0 : 1; }
