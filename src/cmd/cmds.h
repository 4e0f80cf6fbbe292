/*
 * The command table.  Adding a subcommand: write src/cmd/<name>.c with
 * `int cmd_<name>(int argc, const char **argv)` (argv[0] is the command
 * name), add one CMD() line here, one t/ script and a help test.
 * CMD(name-as-typed, c-identifier, one-line summary or NULL)
 */
CMD("bloom", bloom, NULL)
CMD("cat-file", cat_file, NULL)
CMD("drecurse", drecurse, NULL)
CMD("help", help, "Print detailed help for the given command")
CMD("init", init, NULL)
CMD("join", join, NULL)
CMD("list-idx", list_idx, NULL)
CMD("margin", margin, NULL)
CMD("memtest", memtest, NULL)
CMD("midx", midx, NULL)
CMD("random", random, NULL)
CMD("restore", restore, "Extract files from a backup set")
CMD("split", split, NULL)
CMD("tick", tick, NULL)
CMD("version", version, NULL)
CMD("xstat", xstat, NULL)
