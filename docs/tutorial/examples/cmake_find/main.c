#include <stdio.h>
#include <greet.h>

int main(void) {
    printf("greet(41) = %d\n", greet(41));
    return greet(41) == 42 ? 0 : 1;
}
