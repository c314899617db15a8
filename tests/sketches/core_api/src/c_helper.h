#ifndef C_HELPER_H
#define C_HELPER_H
#ifdef __cplusplus
extern "C" {
#endif
int c_helper(int x);
#ifdef __cplusplus
}
#endif
#endif
