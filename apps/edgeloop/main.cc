#include <cstdio>
int main() { std::puts("edgeloop"); return 0; }
