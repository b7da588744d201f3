//! Shared harness for the end-to-end tests: every suite calls the API under
//! test through one `check_*` function here.
