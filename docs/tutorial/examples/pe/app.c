/* An executable that imports greet() from greet.dll through its import library. */
__declspec(dllimport) int greet(int x);
int main(void) { return greet(41) == 42 ? 0 : 1; }
