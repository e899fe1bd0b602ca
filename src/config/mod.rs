//! Where iotfleet keeps its files (XDG paths), and the console's configuration: `config.toml`,
//! keymap and theme files (defaults embedded, user files laid over them). Reads files and the
//! environment; never touches the terminal.

pub mod files;
pub mod keymap;
pub mod paths;
pub mod theme;
