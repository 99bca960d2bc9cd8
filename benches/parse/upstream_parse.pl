#!/usr/bin/perl
# Time upstream ldirectord's own parser (read_config + ld_setup) on a file,
# in-process, excluding perl start-up. Loads the subroutines of Debian's
# installed /usr/sbin/ldirectord at run time (nothing of it is copied here):
# everything from `use strict;` to the first `set_defaults();` (globals and
# constants) and every `sub` after it; the script's option handling and
# daemon start are left out.
#
# usage: upstream_parse.pl FILE [ITERATIONS]   prints: min median max (ms)
use strict;
use warnings;
no warnings qw(once);
use Time::HiRes qw(time);

my ($file, $iters) = @ARGV;
$iters ||= 5;
my $script = $ENV{LDIRECTORD_PERL} || '/usr/sbin/ldirectord';
open(my $fh, '<', $script) or die "cannot read $script: $!";
my $src = do { local $/; <$fh> };
close $fh;
$src =~ s/^__END__.*//ms;
my $start = index($src, "\nuse strict;");
my $defaults = index($src, "\nset_defaults();", $start);
my $subs = index($src, "\nsub ", $defaults);
die "unexpected layout of $script" if $start < 0 || $defaults < 0 || $subs < 0;
my @uses = (substr($src, $defaults) =~ /^(use (?:Socket|Socket6|Sys::Hostname|POSIX|Sys::Syslog)\b[^;]*;)/mg);
my $code = "package main;\nno warnings;\n"
	. substr($src, $start, $defaults - $start) . "\n"
	. join("\n", @uses) . "\n"
	. substr($src, $subs) . "\n1;\n";
{
	no strict;
	eval $code or die "loading upstream subroutines failed: $@";
}
no strict 'vars';
$main::CONFIG = $file;
$main::HOSTNAME = 'benchhost';
$main::DAEMON_STATUS = $main::DAEMON_STATUS_STARTING;
my @t;
for (1 .. $iters) {
	my $t0 = time;
	main::read_config();
	main::ld_setup();
	push @t, (time - $t0) * 1000;
}
@t = sort { $a <=> $b } @t;
printf("%.2f %.2f %.2f %d\n", $t[0], $t[int(@t / 2)], $t[-1], scalar(@main::VIRTUAL));
