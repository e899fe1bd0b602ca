//! Configuration files as fixtures: every shipped keymap and theme parses and is complete, every
//! action a keymap names exists, the valid examples load cleanly, and each invalid file gives the
//! exact, path-bearing message a user would see.

use iotfleet::config::files::{self, KEYMAPS, THEMES};
use iotfleet::config::keymap::Keymap;
use iotfleet::config::theme::ThemeFile;
use iotfleet::tui::keys::KeyResolver;

#[test]
fn every_shipped_theme_defines_every_style_with_known_colours() {
    for (name, text) in THEMES {
        let theme = ThemeFile::parse(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
        theme
            .resolve(false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        theme
            .resolve(true)
            .unwrap_or_else(|e| panic!("{name} with NO_COLOR: {e}"));
    }
}

#[test]
fn every_shipped_keymap_names_only_existing_actions_and_layers() {
    for (name, _) in KEYMAPS {
        let loaded = files::load_from(None, None, Some(name), false);
        assert!(loaded.problems.is_empty(), "{name}: {:?}", loaded.problems);
        let (_, problems) = KeyResolver::new(&loaded.keymap);
        assert!(problems.is_empty(), "{name}: {problems:?}");
    }
}

/// Loads one fixture as the user's file of its kind, from a config directory of its own.
fn load_fixture(file: &str) -> (tempfile::TempDir, std::path::PathBuf, Vec<String>) {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(file);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(if file.contains("keymap-") {
        "keymap.toml"
    } else {
        "theme.toml"
    });
    std::fs::copy(&source, &target).unwrap();
    let loaded = files::load_from(Some(dir.path()), None, None, false);
    let (_, keymap_problems) = KeyResolver::new(&loaded.keymap);
    (
        dir,
        target,
        loaded.problems.into_iter().chain(keymap_problems).collect(),
    )
}

#[test]
fn valid_fixtures_load_without_problems() {
    for file in [
        "valid_configs/keymap-quit-on-x.toml",
        "valid_configs/theme-warm-accent.toml",
    ] {
        let (_dir, _, problems) = load_fixture(file);
        assert!(problems.is_empty(), "{file}: {problems:?}");
    }
}

#[test]
fn invalid_fixtures_give_the_expected_messages() {
    let cases = [
        (
            "invalid_configs/keymap-unknown-key.toml",
            "keymap {path} line 4: '<Hyper-q>': unknown key name 'Hyper-q'; your keymap file is ignored",
        ),
        (
            "invalid_configs/keymap-unknown-action.toml",
            "keymap {path} line 3: unknown action 'self_destruct': the actions are quit, help, command, filter, back, refresh, copy, things, certificates, policies, up, down, page_up, page_down, top, bottom, open, sort, confirm, cancel, complete, clear_line, traffic, subscribe, unsubscribe, freeze, clear, publish, next_pane, hex, shadow, next_shadow, metadata, edit, edit_external, apply, json_path, quarantine, release, can, history, mark, mark_all, yes, no, mine, theirs, or noop",
        ),
        (
            "invalid_configs/keymap-not-toml.toml",
            "keymap {path} line 3: ",
        ),
        (
            "invalid_configs/theme-short-hex.toml",
            "theme {path} line 2: unknown colour '#12' for fg: use a [palette] name, #rrggbb, an ANSI name (red, light-blue, dark-gray, ...) or 0-255; your theme file is ignored",
        ),
        (
            "invalid_configs/theme-unknown-style.toml",
            "theme {path} line 2: unknown style 'thing.sparkly': the styles are text, dim, title,",
        ),
        (
            "invalid_configs/theme-unknown-field.toml",
            "theme {path} line 2: unknown field `blink`",
        ),
    ];
    for (file, expected) in cases {
        let (_dir, path, problems) = load_fixture(file);
        let expected = expected.replace("{path}", &path.display().to_string());
        assert_eq!(problems.len(), 1, "{file}: {problems:?}");
        assert!(
            problems[0].starts_with(&expected),
            "{file}:\n  got      {}\n  expected {expected}",
            problems[0]
        );
    }
}

#[test]
fn a_user_keymap_overlays_the_default_one() {
    let mut keymap = Keymap::parse("default", KEYMAPS[0].1).unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/valid_configs/keymap-quit-on-x.toml"
    ))
    .unwrap();
    keymap.overlay(Keymap::parse("user", &text).unwrap());
    let global = &keymap.layers["global"];
    assert!(
        global
            .iter()
            .any(|b| b.run == "quit" && b.keys[0].to_string() == "x")
    );
    assert!(
        !global
            .iter()
            .any(|b| b.keys.len() == 1 && b.keys[0].to_string() == "q")
    );
    assert!(
        global
            .iter()
            .any(|b| b.run == "quit" && b.keys[0].to_string() == "<C-c>"),
        "other bindings stay"
    );
}
