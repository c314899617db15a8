/* newlib system calls: heap (_sbrk), console I/O, and exit (semihosting when a debugger/emulator is attached). */
#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>

#include "Arduino.h"
#include "cortex_m.h"

extern char __heap_start[];  /* end of .bss (linker script) */
extern char __stack_limit[]; /* the heap never grows above this: the stack reserve starts here */

/* The current program break. Global and named so an emulator can read the heap high-water mark. */
char *__armlprof_brk = __heap_start;

void *_sbrk(ptrdiff_t increment) {
  char *previous = __armlprof_brk;
  char *next = previous + increment;
  if (next > __stack_limit || next < __heap_start) {
    errno = ENOMEM;
    return (void *)-1;
  }
  __armlprof_brk = next;
  return previous;
}

int _write(int fd, const char *data, int n) {
  (void)fd;
  for (int i = 0; i < n; ++i) armlprof_console_putc(data[i]);
  return n;
}

int _read(int fd, char *data, int n) {
  (void)fd;
  int got = 0;
  while (got < n) {
    int c = armlprof_console_getc();
    if (c < 0) {
      if (got) break;
      continue;
    }
    data[got++] = (char)c;
  }
  return got;
}

int _close(int fd) { (void)fd; return -1; }
int _lseek(int fd, int offset, int whence) { (void)fd; (void)offset; (void)whence; return 0; }
int _isatty(int fd) { (void)fd; return 1; }
int _fstat(int fd, struct stat *st) { (void)fd; st->st_mode = S_IFCHR; return 0; }
int _getpid(void) { return 1; }
int _kill(int pid, int sig) { (void)pid; (void)sig; errno = EINVAL; return -1; }

/* Completion. With a debugger or emulator attached (DHCSR.C_DEBUGEN), report the exit code over semihosting
 * (SYS_EXIT_EXTENDED, ADP_Stopped_ApplicationExit); on a free-running board, idle forever. */
void _exit(int code) {
  if (DHCSR & DHCSR_C_DEBUGEN) {
    volatile uint32_t block[2] = {0x20026u, (uint32_t)code};
    register uint32_t r0 __asm__("r0") = 0x20u;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xAB" : : "r"(r0), "r"(r1) : "memory");
  }
  for (;;) {
  }
}
