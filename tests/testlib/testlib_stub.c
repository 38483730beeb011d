/* testlib_stub - keeps the test helper library non-empty. */
int sluice_testlib_present;
