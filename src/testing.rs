//! Test skips: a reason in, a `skipped:` line on stderr out — or a failing test when
//! `DOCKVAR_TEST_STRICT=1`, which `scripts/test` (and so CI) sets, so that a test that cannot
//! find the engine, the registry or a tool it needs never passes there by doing nothing.

/// Says that the calling test is skipped and why; panics instead under `DOCKVAR_TEST_STRICT=1`.
pub fn skip(reason: &str) {
    skip_as(std::env::var("DOCKVAR_TEST_STRICT").is_ok_and(|v| v == "1"), reason);
}

fn skip_as(strict: bool, reason: &str) {
    if strict {
        panic!("test skipped under DOCKVAR_TEST_STRICT=1: {reason}");
    }
    eprintln!("skipped: {reason}");
}

#[cfg(test)]
mod tests {
    #[test]
    #[should_panic(expected = "skipped under DOCKVAR_TEST_STRICT=1: no engine")]
    fn a_strict_skip_fails() {
        super::skip_as(true, "no engine");
    }

    #[test]
    fn a_lenient_skip_passes() {
        super::skip_as(false, "no engine");
    }
}
