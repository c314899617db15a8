/* CXD5602 early init: the Spresense bootloader has already set up clocks and memory; nothing to do here. */
void board_early_init(void) {}
