// Sanitizer options of the git tests' program (icotes_git_tests), read by
// ASan/LSan at start-up through their documented weak hooks; unused in
// builds without sanitizers.
//
// libgit2 1.5.1 (Debian 12) creates PCRE2 match data for its config regex
// scans and does not free it when a scan finds nothing (libgit2#6382, fixed
// in 1.6); nothing in icotes can free it. The suppressions name PCRE2's
// functions, which only show in the stack with full unwinding (PCRE2 is
// built without frame pointers).
extern "C" {

__attribute__((visibility("default"), used)) const char* __asan_default_options() { return "fast_unwind_on_malloc=0"; }

__attribute__((visibility("default"), used)) const char* __lsan_default_suppressions() {
  return "leak:pcre2_match_data_create_8\n"
         "leak:pcre2_match_8\n";
}

}  // extern "C"
