#!/usr/bin/perl
# Static half of the chain lint (test-lib.sh runs the other half, git's
# "(exit 117) &&" check, on every body as it runs).  That check sees
# only the top level of a body; this one reads the bodies of
# test_expect_success/test_expect_failure and reports what it cannot
# see, each a way for a test to pass although a command in it failed:
#
#   - "|| true" or "|| :" (a status thrown away on purpose);
#   - a line that ends in ";" (the next command runs whatever happened);
#   - inside a loop or a brace group, a command line not joined to the
#     next one by "&&", "||" or "|";
#   - a loop body whose last command does not end in "|| return N",
#     "|| exit N" (a failure in any pass but the last would be lost),
#     unless the loop only retries (it contains "break").
#
# Here-documents are skipped.  Usage: t/chainlint.pl SCRIPT...; prints
# "FILE:LINE: problem" and exits 1 when it finds any.
use strict;
use warnings;

my $problems = 0;

sub complain {
	my ($file, $line, $msg) = @_;
	print "$file:$line: $msg\n";
	$problems++;
}

# The bodies of one script: [line number of the body's first line,
# body text].  The arguments of test_expect_* are read as shell words
# ('...', "..." and bare characters, concatenated) up to an unquoted
# newline; the body is the last one.
sub bodies {
	my ($text) = @_;
	my @out;
	while ($text =~ /^[ \t]*test_expect_(?:success|failure)\b/gm) {
		my $pos = pos($text);
		my ($word, $wstart, $last, $laststart) = (undef, 0, undef, 0);
		my $len = length $text;
		while ($pos < $len) {
			my $c = substr($text, $pos, 1);
			if ($c eq "\n" && !defined $word) {
				last;
			} elsif ($c eq ' ' || $c eq "\t" || $c eq "\n") {
				($last, $laststart) = ($word, $wstart) if defined $word;
				undef $word;
				last if $c eq "\n";
				$pos++;
			} elsif ($c eq "'") {
				my $end = index($text, "'", $pos + 1);
				last if $end < 0;
				$wstart = $pos + 1 unless defined $word;
				$word .= substr($text, $pos + 1, $end - $pos - 1);
				$pos = $end + 1;
			} elsif ($c eq '"') {
				my $end = $pos + 1;
				$end++ while $end < $len &&
					(substr($text, $end, 1) ne '"' ||
					 substr($text, $end - 1, 1) eq '\\');
				$wstart = $pos + 1 unless defined $word;
				$word .= substr($text, $pos + 1, $end - $pos - 1);
				$pos = $end + 1;
			} elsif ($c eq '\\') {
				$pos += 2;
			} else {
				$wstart = $pos unless defined $word;
				$word .= $c;
				$pos++;
			}
		}
		($last, $laststart) = ($word, $wstart) if defined $word;
		next unless defined $last;
		my $line = 1 + (substr($text, 0, $laststart) =~ tr/\n//);
		push @out, [$line, $last];
		pos($text) = $pos;
	}
	return @out;
}

sub lint_body {
	my ($file, $first, $body) = @_;
	my @lines = split /\n/, $body, -1;
	my @logical;	# [line number, text]
	my $heredoc;
	my $acc = '';
	my $accline;
	for my $i (0 .. $#lines) {
		my $l = $lines[$i];
		my $n = $first + $i;
		if (defined $heredoc) {
			(my $t = $l) =~ s/^\t+//;
			undef $heredoc if $t eq $heredoc;
			next;
		}
		$accline //= $n;
		if ($l =~ /\\$/) {
			$acc .= substr($l, 0, -1) . ' ';
			next;
		}
		$acc .= $l;
		if ($acc =~ /<<-?\s*\\?(["']?)(\w+)\1/) {
			$heredoc = $2;
		}
		push @logical, [$accline, $acc];
		$acc = '';
		undef $accline;
	}
	# drop comments and blank lines
	@logical = grep { $_->[1] !~ /^\s*(#|$)/ } @logical;
	for my $k (0 .. $#logical) {
		my ($n, $t) = @{$logical[$k]};
		(my $code = $t) =~ s/\s+#.*$//;
		$code =~ s/\s+$//;
		if ($code =~ /\|\|\s*(true|:)(\s|;|$|\)|\})/) {
			complain($file, $n, "'|| $1' throws a status away");
		}
		if ($code =~ /;$/ && $code !~ /;;$/) {
			complain($file, $n, "a line ending in ';' drops the status before it");
		}
	}
	# loops and brace groups, by nesting of do/done and { }
	my @stack;	# [kind, has break]
	for my $k (0 .. $#logical) {
		my ($n, $t) = @{$logical[$k]};
		(my $code = $t) =~ s/\s+#.*$//;
		$code =~ s/^\s+|\s+$//g;
		my $next = $k < $#logical ? $logical[$k + 1][1] : '';
		$next =~ s/^\s+//;
		pop @stack if $code =~ /^(done|\})/ && @stack;
		$stack[-1][1] = 1 if @stack && $code =~ /\bbreak\b/;
		(my $words = $code) =~ s/'[^']*'|"(?:[^"\\]|\\.)*"//g;
		my $lead = $words =~ /^\}/ ? 1 : 0;
		my $open = () = $words =~ /(?:^|\s)\{(?=\s|$)/g;
		my $close = () = $words =~ /(?:^|[\s;])\}(?=[\s;&|)]|$)/g;
		my $net = $open - ($close - $lead);
		my $opens_do = $words =~ /(^|[;\s])do$|^do$/;
		my $closes = $next =~ /^(done|\}|fi|else|elif|;;|esac|\)|do$|then$)/;
		# (a status taken on the next line, "rc=$?" or "echo $?", is
		# looked at, not lost; a failure that returns is not lost)
		my $captured = $next =~ /^(\w+=\$\?|echo\b[^|&;]*\$\?)/ ||
			$code =~ /;\s*\w+=\$\?$/;
		my $leaves = $code =~ /(\|\||^)\s*(return|exit)\s+\d+$|\|\|\s*(continue|break)$/ ||
			$code =~ /\b(return|exit)\s+\d+;\s*\}$/;
		if (@stack && !$opens_do && $net <= 0 && !$closes && $k < $#logical &&
		    !$captured && !$leaves &&
		    $code !~ /(&&|\|\||\||\bthen|\bdo|\belse|\bin|;;)$/) {
			complain($file, $n, "inside a loop or { }: no '&&' to the next command");
		}
		if (@stack && $stack[-1][0] eq 'do' && $next =~ /^done\b/ &&
		    !$stack[-1][1] && !$leaves && $code !~ /^(fi|done|\}|esac)$/) {
			complain($file, $n, "a loop body's last command needs '|| return 1' (or '|| exit 1')");
		}
		if ($net > 0) {
			push @stack, ['{', 0] for 1 .. $net;
		} elsif ($net < 0) {
			pop @stack for 1 .. -$net;
		}
		push @stack, ['do', 0] if $opens_do;
		# a loop closed later on its own line ("...; done")
		my $inline_done = () = $words =~ /[;\s]done\b/g;
		$inline_done-- if $inline_done && $words =~ /^done\b/;
		pop @stack for grep { @stack } 1 .. $inline_done;
	}
}

for my $file (@ARGV) {
	open my $fh, '<', $file or die "$file: $!\n";
	local $/;
	my $text = <$fh>;
	close $fh;
	for my $b (bodies($text)) {
		lint_body($file, $b->[0], $b->[1]);
	}
}
exit($problems ? 1 : 0);
