/* armlprof emulator: native Unicorn hooks that count instructions and modelled cycles per basic block.
 *
 * Python decodes each new block once (capstone + the timing table) and stores its cost here; from then on every
 * execution of the block costs one hash lookup in C, no Python. Branch penalties are decided at the start of the
 * next block: a block ending in a conditional branch was taken when execution did not continue at its
 * fall-through address. The same hook watches the stack: after a block that writes SP it records the lowest SP
 * and stops the run if SP went below the heap's program break (stack grown into the heap).
 *
 * MMIO reads go through a native trampoline too (armlprof_mmio_read): it finds the instruction of the current block
 * that is reading (from the block's load list and the core registers) and answers DWT CYCCNT itself, exactly, so a
 * delay() loop polling the cycle counter costs no Python; other registers are read by the Python model.
 *
 * Built on first use with the host C compiler into the armlprof cache (see native.py); loaded with ctypes.
 * The layout of state_t and block_t is mirrored in native.py: keep them in sync.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct uc_struct uc_engine;
typedef int (*reg_read_fn)(uc_engine *uc, int regid, void *value);
typedef int (*reg_write_fn)(uc_engine *uc, int regid, const void *value);
typedef int (*emu_stop_fn)(uc_engine *uc);
typedef int32_t (*miss_fn)(uint64_t address, uint32_t size);

#define UC_ARM_REG_R0 66
#define UC_ARM_REG_SP 12
#define UC_ARM_REG_PC 11
#define UC_MEM_READ 16

#define F_BRANCH 1u    /* last instruction may branch (conditionally): taken if next block != fall-through */
#define F_WRITES_SP 2u /* some instruction writes SP: check the stack after the block */

#define MAX_REGIONS 8
#define TX_BUF_BYTES 4096

typedef struct {
  uint32_t addr;
  uint32_t size;          /* key is (addr, size): QEMU may split the same start address differently */
  uint32_t cycles;        /* zero-wait-state cycles, final branch not taken */
  uint32_t taken_cycles;  /* extra cycles when the final branch is taken (pipeline refill) */
  uint32_t instructions;
  uint32_t fetch_words;   /* 32-bit instruction fetches, for the region's fetch wait states */
  uint32_t flags;
  uint32_t region;        /* index into the wait-state tables */
  uint32_t first_load;    /* this block's loads: s->loads[first_load .. first_load + n_loads) */
  uint32_t n_loads;
} block_t;

/* A load instruction of a block: its address is base + (±index << shift) + displacement (registers 0..15). */
typedef struct {
  uint32_t pc;            /* the instruction's address */
  uint32_t index_in_block;
  uint32_t prefix_cycles; /* zero-wait-state cycles of the block before this instruction */
  int32_t displacement;
  uint8_t base, index, shift, subtracted; /* index NO_INDEX: none */
} load_t;

#define NO_INDEX 0xFFu

typedef struct {
  /* counters */
  uint64_t cycles;        /* every completed block, wait states and skipped (idle) cycles */
  uint64_t instructions;  /* every completed block */
  uint64_t max_cycles;    /* stop when cycles reach this (0: no limit) */
  int64_t cur;            /* index of the block being executed, -1: none */
  uint32_t stop_reason;   /* 0 none, 1 cycle_limit, 2 stack_heap_collision, 3 translation error */
  uint32_t lowest_sp;
  uint32_t heap_high;     /* highest program break seen */
  uint32_t collision_sp;
  uint32_t collision_brk;
  uint32_t load_wait;     /* cycles per load in the hooked (slow) range */
  uint32_t store_wait;
  uint32_t _pad;
  /* configuration */
  const uint32_t *brk_host;                  /* host address of the firmware's __armlprof_brk, NULL: no watch */
  const uint32_t *cache_enable[MAX_REGIONS]; /* host address of a cache-enable register (bit 0), NULL: none */
  uint32_t fetch_wait[MAX_REGIONS];          /* per fetch, cache enabled (or no cache) */
  uint32_t fetch_wait_uncached[MAX_REGIONS]; /* per fetch, cache disabled */
  reg_read_fn reg_read;
  emu_stop_fn emu_stop;
  miss_fn miss;
  reg_write_fn reg_write;
  int32_t epsr_reg;       /* Unicorn's UC_ARM_REG_EPSR */
  uint32_t _pad3;
  /* blocks and the hash table address -> index */
  block_t *blocks;
  uint32_t n_blocks;
  uint32_t cap_blocks;
  int32_t *table;
  uint32_t table_mask;
  uint32_t _pad2;
  uint64_t block_seq;     /* blocks entered: tells Python when a new block execution began */
  /* loads of all blocks (block_t.first_load) */
  load_t *loads;
  uint32_t n_loads;
  uint32_t cap_loads;
  /* the MMIO read being served: which load of the current block execution reads it */
  uint64_t mmio_seq;      /* block_seq of the block execution mmio_last refers to */
  int32_t mmio_last;      /* index_in_block of the last load located in it, -1: none */
  uint32_t mmio_located;  /* 1: mmio_pc is the reading instruction, 0: unknown */
  uint32_t mmio_pc;
  /* DWT CYCCNT, mirrored from the Python model after each PPB write */
  uint32_t timed;         /* cycles mode: 1 timed, 0 functional (one per instruction) */
  uint32_t dwt_native;    /* 1: armlprof_mmio_read answers CYCCNT reads */
  uint32_t dwt_running;
  uint32_t dwt_frozen;
  int64_t dwt_offset;     /* CYCCNT = cycles + offset while running */
  /* console TX bytes not yet handed to Python (flushed at a newline, when full, and before any Python callback) */
  void (*tx_flush)(void);
  uint32_t rx_pending;    /* console RX bytes queued on the host side: mirrored from Python */
  uint32_t tx_len;
  uint8_t tx_buf[TX_BUF_BYTES];
} state_t;

static uint32_t hash_addr(uint32_t addr, uint32_t size) {
  uint32_t h = (addr >> 1) * 2654435761u ^ size * 40503u;
  return h ^ (h >> 15);
}

static void table_insert(state_t *s, int32_t index) {
  const block_t *b = &s->blocks[index];
  uint32_t i = hash_addr(b->addr, b->size) & s->table_mask;
  while (s->table[i] >= 0) i = (i + 1) & s->table_mask;
  s->table[i] = index;
}

static int grow_table(state_t *s) {
  uint32_t slots = s->table ? (s->table_mask + 1) * 2 : 1u << 14;
  int32_t *t = malloc(sizeof(int32_t) * slots);
  if (!t) return -1;
  memset(t, 0xff, sizeof(int32_t) * slots);
  free(s->table);
  s->table = t;
  s->table_mask = slots - 1;
  for (uint32_t i = 0; i < s->n_blocks; ++i) table_insert(s, (int32_t)i);
  return 0;
}

/* Store a decoded block and its loads; returns its index, or -1 when out of memory. */
int32_t armlprof_add_block(state_t *s, const block_t *b, const load_t *loads, uint32_t n_loads) {
  if (s->n_loads + n_loads > s->cap_loads) {
    uint32_t cap = s->cap_loads ? s->cap_loads : 4096;
    while (cap < s->n_loads + n_loads) cap *= 2;
    load_t *nl = realloc(s->loads, sizeof(load_t) * cap);
    if (!nl) return -1;
    s->loads = nl;
    s->cap_loads = cap;
  }
  if (s->n_blocks == s->cap_blocks) {
    uint32_t cap = s->cap_blocks ? s->cap_blocks * 2 : 4096;
    block_t *nb = realloc(s->blocks, sizeof(block_t) * cap);
    if (!nb) return -1;
    s->blocks = nb;
    s->cap_blocks = cap;
  }
  if (!s->table || (s->n_blocks + 1) * 2 > s->table_mask + 1) {
    if (grow_table(s)) return -1;
  }
  int32_t index = (int32_t)s->n_blocks++;
  s->blocks[index] = *b;
  s->blocks[index].first_load = s->n_loads;
  s->blocks[index].n_loads = n_loads;
  if (n_loads) memcpy(s->loads + s->n_loads, loads, sizeof(load_t) * n_loads);
  s->n_loads += n_loads;
  table_insert(s, index);
  return index;
}

int32_t armlprof_find_block(const state_t *s, uint32_t addr, uint32_t size) {
  if (!s->table) return -1;
  uint32_t i = hash_addr(addr, size) & s->table_mask;
  for (;;) {
    int32_t index = s->table[i];
    if (index < 0) return -1;
    const block_t *b = &s->blocks[index];
    if (b->addr == addr && b->size == size) return index;
    i = (i + 1) & s->table_mask;
  }
}

void armlprof_free(state_t *s) {
  free(s->blocks);
  free(s->table);
  free(s->loads);
  s->blocks = NULL;
  s->table = NULL;
  s->loads = NULL;
  s->n_blocks = s->cap_blocks = 0;
  s->n_loads = s->cap_loads = 0;
}

static uint32_t fetch_wait(const state_t *s, uint32_t region) {
  const uint32_t *enable = s->cache_enable[region];
  if (enable && !(*enable & 1u)) return s->fetch_wait_uncached[region];
  return s->fetch_wait[region];
}

/* Cycles of block `b` when execution continues at `next`. */
static uint64_t block_cost(const state_t *s, const block_t *b, uint32_t next) {
  uint64_t c = b->cycles + (uint64_t)b->fetch_words * fetch_wait(s, b->region);
  if ((b->flags & F_BRANCH) && next != b->addr + b->size) c += b->taken_cycles;
  return c;
}

static void stop(state_t *s, uc_engine *uc, uint32_t reason) {
  if (!s->stop_reason) s->stop_reason = reason;
  s->emu_stop(uc);
}

/* Account for the block that just finished, now that we know where execution went. */
static void finish_block(state_t *s, uc_engine *uc, uint32_t next) {
  const block_t *p = &s->blocks[s->cur];
  s->cycles += block_cost(s, p, next);
  s->instructions += p->instructions;
  s->cur = -1;
  if (p->flags & F_WRITES_SP) {
    uint32_t sp = 0;
    s->reg_read(uc, UC_ARM_REG_SP, &sp);
    if (sp < s->lowest_sp) s->lowest_sp = sp;
    if (!s->brk_host) return;
    uint32_t brk = *s->brk_host;
    if (brk > s->heap_high) s->heap_high = brk;
    if (sp < brk) {
      s->collision_sp = sp;
      s->collision_brk = brk;
      stop(s, uc, 2);
    }
  }
}

void armlprof_block_hook(uc_engine *uc, uint64_t address, uint32_t size, void *user_data) {
  state_t *s = (state_t *)user_data;
  uint32_t addr = (uint32_t)address;
  if (s->cur >= 0) finish_block(s, uc, addr);
  int32_t index = armlprof_find_block(s, addr, size);
  if (index < 0) {
    index = s->miss(address, size);
    if (index < 0) {
      stop(s, uc, 3);
      return;
    }
  }
  s->cur = index;
  s->block_seq++;
  if (s->max_cycles && s->cycles >= s->max_cycles) stop(s, uc, 1);
}

/* Memory wait states of a slow region (e.g. flash data reads): installed only over that region's range.
 *
 * Unicorn calls a memory hook after cpu_restore_state(), which sets the PC *and* the Thumb IT state
 * (env->condexec_bits) to those of the accessing instruction, then lets the translated block run on. QEMU's ARM
 * translator keeps the IT state in the translation and relies on env->condexec_bits being 0 while a block runs
 * (it zeroes it at block start and only writes it back when leaving inside an IT block). So after a hooked load
 * inside an IT block (`ite hi; ldrhhi r0, [r0, r1]; movls r0, #0; bx lr`) the stale IT state leaked into the
 * next block, whose first instructions then ran as if conditional: skipped, or executed when they should not
 * (unicorn-engine/unicorn#2309). Restoring the invariant here, EPSR.IT = 0 (T stays 1: M-profile is always
 * Thumb), makes hooked and unhooked execution identical. condexec_bits is plain CPU state, not a TCG global,
 * so writing it mid-block is safe; a fault later in the block restores it from the block's own records. */
#define EPSR_THUMB 0x01000000u

void armlprof_mem_hook(uc_engine *uc, int type, uint64_t address, int size, int64_t value, void *user_data) {
  (void)address;
  (void)size;
  (void)value;
  state_t *s = (state_t *)user_data;
  static const uint32_t epsr = EPSR_THUMB;
  s->reg_write(uc, s->epsr_reg, &epsr);
  s->cycles += type == UC_MEM_READ ? s->load_wait : s->store_wait;
}

/* Alignment (installed over every memory region): a Cortex-M4 takes a UsageFault (UNALIGNED) on an unaligned
 * LDM/STM/PUSH/POP, LDRD/STRD, VLDR/VSTR/VLDM/VSTM/VPUSH/VPOP or LDREX/STREX whatever CCR says, while LDR/STR and
 * the halfword forms may be unaligned; Unicorn (QEMU 5) runs them all. An aligned access returns at once; an
 * unaligned one looks its PC up among the instructions already found permitted, else asks Python (which decodes
 * the instruction and, for one that faults, records the fault and stops the run). The IT state is cleared as in
 * armlprof_mem_hook: this hook sees every access. */
typedef int32_t (*unaligned_fn)(uint32_t pc, uint32_t address, uint32_t size);
#define ALIGN_SLOTS 1024u /* a power of 2 */

typedef struct {
  state_t *state;
  unaligned_fn unaligned;  /* 1: the instruction at pc may access unaligned data (remember it); 0: it faulted */
  uint32_t permitted[ALIGN_SLOTS];  /* PCs of permitted unaligned accesses, open addressing, 0: empty */
} align_t;

void armlprof_align_hook(uc_engine *uc, int type, uint64_t address, int size, int64_t value, void *user_data) {
  (void)type;
  (void)value;
  align_t *a = (align_t *)user_data;
  state_t *s = a->state;
  static const uint32_t epsr = EPSR_THUMB;
  s->reg_write(uc, s->epsr_reg, &epsr);
  const uint32_t mask = size >= 4 ? 3u : size == 2 ? 1u : 0u;
  if (!((uint32_t)address & mask)) return;
  uint32_t pc = 0;
  s->reg_read(uc, UC_ARM_REG_PC, &pc);
  uint32_t i = ((pc >> 1) * 2654435761u) & (ALIGN_SLOTS - 1u);
  for (uint32_t probe = 0; probe < 16u && a->permitted[i]; ++probe, i = (i + 1u) & (ALIGN_SLOTS - 1u))
    if (a->permitted[i] == pc) return;
  if (a->unaligned(pc, (uint32_t)address, (uint32_t)size) && !a->permitted[i]) a->permitted[i] = pc;
}

/* SDIV/UDIV early termination (a code hook on each divide instruction's address). The TRM gives only the range,
 * 2..12 cycles; the model spreads it linearly over the quotient's bit length (an assumption, see timing.py).
 * The block already counted 1 cycle for the instruction. The operand registers are encoded in the hook's
 * user data via a per-address table filled by Python. */
typedef struct {
  uint32_t addr;
  uint8_t rn, rm, is_signed, _pad;
} div_t_;

typedef struct {
  state_t *state;
  div_t_ *divs;
  uint32_t n_divs;
  uint32_t div_min_cycles;
  uint32_t div_max_cycles;
} div_table_t;

static uint32_t clz32(uint32_t x) { return x ? (uint32_t)__builtin_clz(x) : 32u; }

uint32_t armlprof_div_cycles(uint32_t n, uint32_t m, int is_signed, uint32_t lo, uint32_t hi) {
  if (is_signed) {
    n = (int32_t)n < 0 ? 0u - n : n;
    m = (int32_t)m < 0 ? 0u - m : m;
  }
  if (m == 0 || n < m) return lo; /* quotient 0 (or divide by zero): terminates at once */
  uint32_t quotient_bits = clz32(m) - clz32(n) + 1u;
  uint32_t span = hi - lo;
  return lo + (quotient_bits * span + 31u) / 32u;
}

void armlprof_div_hook(uc_engine *uc, uint64_t address, uint32_t size, void *user_data) {
  (void)size;
  div_table_t *t = (div_table_t *)user_data;
  uint32_t addr = (uint32_t)address;
  uint32_t lo = 0, hi = t->n_divs;
  while (lo < hi) { /* sorted by address */
    uint32_t mid = (lo + hi) / 2;
    if (t->divs[mid].addr < addr) lo = mid + 1; else hi = mid;
  }
  if (lo >= t->n_divs || t->divs[lo].addr != addr) return;
  const div_t_ *d = &t->divs[lo];
  uint32_t n = 0, m = 0;
  t->state->reg_read(uc, UC_ARM_REG_R0 + d->rn, &n);
  t->state->reg_read(uc, UC_ARM_REG_R0 + d->rm, &m);
  t->state->cycles += armlprof_div_cycles(n, m, d->is_signed, t->div_min_cycles, t->div_max_cycles) - 1u;
}


/* A fixed cycle surcharge on entering a function (a code hook on its first instruction): the official C
 * library's allocator costs more per call than the newlib-nano one armlprof links (board data, timing.py). */
typedef struct {
  state_t *state;
  uint32_t cycles;
  uint32_t _pad;
} surcharge_t;

void armlprof_surcharge_hook(uc_engine *uc, uint64_t address, uint32_t size, void *user_data) {
  (void)uc;
  (void)address;
  (void)size;
  surcharge_t *t = (surcharge_t *)user_data;
  t->state->cycles += t->cycles;
}


/* ------------------------------------------------------------------------------------------- MMIO reads
 * Unicorn does not update PC inside a block for MMIO callbacks, but the core registers are exact there. Loads
 * execute in order, so the reading instruction is the first load after the previous MMIO read of this block
 * execution whose address, recomputed from the registers, is the register read (the first such load if none
 * matches). Every MMIO read is located here, to keep that order; the Python models read s->mmio_pc. */
typedef uint64_t (*py_read_fn)(uint64_t offset, uint32_t size);
typedef void (*py_write_fn)(uint64_t offset, uint32_t size, uint64_t value);

/* The console UART's transmit side is served here too: a TX data write while the transmitter is on appends to
 * s->tx_buf and raises the TX-done event at once (as the Python model does); the event register is read and
 * written here; and the PL011's status poll before each byte (the first FR read after a DR access, with no input
 * queued) is answered here. Printing a byte then costs no Python. Everything else goes to the Python model. */
typedef struct {
  state_t *state;
  py_read_fn py_read;    /* the Python model's read and write */
  py_write_fn py_write;
  uint32_t base;         /* guest address of the window */
  uint32_t cyccnt;       /* offset of DWT CYCCNT in this window, or NO_OFFSET */
  uint32_t tx_data;      /* offset of the console's TX data register, or NO_OFFSET */
  uint32_t tx_event;     /* offset of its TX-done event register (nRF EVENTS_TXDRDY), or NO_OFFSET */
  uint32_t tx_on;        /* transmitter enabled and started: mirrored from the Python model */
  uint32_t tx_event_value;
  uint32_t poll;         /* offset of a status register polled before each byte (PL011 FR), or NO_OFFSET */
  uint32_t poll_idle;    /* its value with TX free and RX empty */
  uint32_t poll_count;   /* status reads since the last data access (the Python model's count too) */
} mmio_t;

#define NO_OFFSET 0xFFFFFFFFu

static const int core_reg_ids[16] = {66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 12 /* SP */, 10 /* LR */,
                                     -1 /* PC: PC-relative loads read the literal pool, never MMIO */};

static uint32_t core_reg(state_t *s, uc_engine *uc, uint32_t n) {
  uint32_t v = 0;
  if (n < 16 && core_reg_ids[n] >= 0) s->reg_read(uc, core_reg_ids[n], &v);
  return v;
}

static uint32_t load_address(state_t *s, uc_engine *uc, const load_t *ld) {
  uint32_t ea = core_reg(s, uc, ld->base);
  if (ld->index != NO_INDEX) {
    uint32_t off = core_reg(s, uc, ld->index) << ld->shift;
    ea = ld->subtracted ? ea - off : ea + off;
  }
  return ea + (uint32_t)ld->displacement;
}

/* The load of the current block execution reading `address`, or NULL (no block, or no load left). */
static const load_t *locate_read(state_t *s, uc_engine *uc, uint32_t address) {
  s->mmio_located = 0;
  if (s->cur < 0) return NULL;
  const block_t *b = &s->blocks[s->cur];
  if (s->mmio_seq != s->block_seq) {
    s->mmio_seq = s->block_seq;
    s->mmio_last = -1;
  }
  const load_t *first = NULL, *match = NULL;
  uint32_t candidates = 0;
  for (uint32_t k = 0; k < b->n_loads; ++k) {
    const load_t *ld = &s->loads[b->first_load + k];
    if ((int32_t)ld->index_in_block <= s->mmio_last) continue;
    if (!first) first = ld;
    candidates++;
  }
  if (candidates > 1) {
    for (uint32_t k = 0; k < b->n_loads && !match; ++k) {
      const load_t *ld = &s->loads[b->first_load + k];
      if ((int32_t)ld->index_in_block > s->mmio_last && (load_address(s, uc, ld) & ~3u) == (address & ~3u))
        match = ld;
    }
  }
  const load_t *ld = match ? match : first;
  if (!ld) return NULL;
  s->mmio_last = (int32_t)ld->index_in_block;
  s->mmio_located = 1;
  s->mmio_pc = ld->pc;
  return ld;
}

/* Modelled cycles when the located load `ld` executes (the Python twin is Emulator._now). */
static uint64_t cycles_at(const state_t *s, const load_t *ld) {
  const block_t *b = &s->blocks[s->cur];
  if (!s->timed) return s->cycles + ld->index_in_block;
  uint32_t words = (ld->pc - b->addr + 3u) / 4u;
  return s->cycles + ld->prefix_cycles + (uint64_t)words * fetch_wait(s, b->region);
}

uint64_t armlprof_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *user_data) {
  mmio_t *m = (mmio_t *)user_data;
  state_t *s = m->state;
  const load_t *ld = locate_read(s, uc, m->base + (uint32_t)offset);
  if (ld && offset == m->cyccnt && s->dwt_native) {
    if (!s->dwt_running) return s->dwt_frozen;
    return (uint32_t)((int64_t)cycles_at(s, ld) + s->dwt_offset);
  }
  if (offset == m->tx_event) return m->tx_event_value;
  if (offset == m->poll && m->poll_count == 0 && !s->rx_pending) { /* the TX poll: not waiting for input */
    m->poll_count = 1;
    return m->poll_idle;
  }
  return m->py_read(offset, size);
}

void armlprof_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *user_data) {
  (void)uc;
  mmio_t *m = (mmio_t *)user_data;
  state_t *s = m->state;
  if (offset == m->tx_data && m->tx_on) {
    uint8_t byte = (uint8_t)value;
    s->tx_buf[s->tx_len++] = byte;
    m->poll_count = 0;
    if (m->tx_event != NO_OFFSET) m->tx_event_value = 1;
    if (byte == '\n' || s->tx_len == TX_BUF_BYTES) s->tx_flush();
    return;
  }
  if (offset == m->tx_event) {
    m->tx_event_value = (uint32_t)value;
    return;
  }
  m->py_write(offset, size, value);
}
