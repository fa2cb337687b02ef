//! Links the `liftwatch` executable at a fixed address (not position independent): the
//! dynamic loader then has no relocations to apply at start-up (a PIE build of it carries
//! about 20,000, whose pages each start-up dirtied): the start-up bench's page faults to
//! the first `/next` went from 262 to 187 and the binary from 8.06 to 7.58 MB. The code
//! stays position-independent; only the link differs, so this needs no RUSTFLAGS and holds
//! for every build of the binary, the layer's (zig's lld) included.

fn main() {
    println!("cargo:rustc-link-arg-bin=liftwatch=-no-pie");
}
