//! Bevy 0.19 and Burn 0.21 must share one wgpu: two would mean two GPU stacks in one binary.

#[test]
fn exactly_one_wgpu_in_the_lock_file() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    for name in ["wgpu", "wgpu-core", "wgpu-hal", "naga"] {
        let versions: Vec<&str> = lock
            .split("[[package]]")
            .filter(|p| p.lines().any(|l| l == format!("name = \"{name}\"")))
            .filter_map(|p| p.lines().find(|l| l.starts_with("version = ")))
            .collect();
        assert_eq!(versions.len(), 1, "{name} appears in several versions: {versions:?}");
    }
}
