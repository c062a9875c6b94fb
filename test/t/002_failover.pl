# Failover in the middle of an ingest load: the primary crashes, its
# synchronous standby is promoted, and the pg_inbox command, connected with
# a list of hosts and target_session_attrs=read-write, carries on against
# the new primary.  Every event acknowledged before the crash is on the new
# primary exactly once, with the id it was acknowledged with, and so is
# every event of the load; ingest goes on there (new keys inserted,
# redeliveries duplicate).
#
# With synchronous replication (synchronous_standby_names naming the
# standby, synchronous_commit on) an acknowledged commit is on the standby's
# disk.  Without it an acknowledged event can be lost in a failover; the
# last part shows that, and that a synchronous commit waits instead.
#
#   tools/run-tap test/t/002_failover.pl
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgInbox::Test;
use Test::More;

my $events = 100000;         # lines of the load, every tenth a redelivery
my $crash_after = 5000;      # acknowledged events before the primary crashes

my $primary = inbox_node('primary', allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION pg_inbox');

my $standby = streaming_standby($primary, 'standby');
$standby->start;
$primary->append_conf('postgresql.conf',
	"synchronous_standby_names = 'standby'");
$primary->reload;
ok( $primary->poll_query_until(
		'postgres',
		q{SELECT sync_state = 'sync' FROM pg_stat_replication
		  WHERE application_name = 'standby'}),
	'the standby is synchronous');

# the load: distinct keys, every tenth line a redelivery of an earlier one
my $dir = PostgreSQL::Test::Utils::tempdir;
my $input = "$dir/load.ndjson";
open my $fh, '>', $input or die "$input: $!";
for my $i (1 .. $events)
{
	my $k = $i % 10 == 0 ? $i - 7 : $i;
	print $fh qq({"id": "ev-$k", "n": $k}\n);
}
close $fh;
my $distinct = $events - $events / 10;

# one connection string for both servers: libpq takes the first that accepts
# writes, so after the promotion the command's reconnects find the standby
my $conn = sprintf(
	'host=%s,%s port=%d,%d dbname=postgres target_session_attrs=read-write',
	$primary->host, $standby->host, $primary->port, $standby->port);
my $answers = "$dir/answers.tsv";
my ($out, $err) = ('', '');
my $load = IPC::Run::start(
	[
		'pg_inbox', 'ingest', '--source', 'load', '--batch', '50',
		'--jobs', '2', '--answers', $answers, '-d', $conn, $input
	],
	'>', \$out, '2>', \$err,
	IPC::Run::timeout(300));

sub lines_in
{
	my ($file) = @_;
	open my $f, '<', $file or return 0;
	my $n = 0;
	$n++ while <$f>;
	close $f;
	return $n;
}

# crash the primary once enough events are acknowledged
my $waited = 0;
while (lines_in($answers) < $crash_after && $waited++ < 1200)
{
	$load->pump_nb;
	select(undef, undef, undef, 0.05);
}
cmp_ok(lines_in($answers), '>=', $crash_after,
	"$crash_after events acknowledged before the crash");
$primary->stop('immediate');
# what the command had acknowledged when the primary went away (a line
# being written at this moment is left out: it is checked with the rest)
{
	my $text = slurp_file($answers);
	$text =~ s/[^\n]*\z//;
	append_to_file("$dir/before.tsv", $text);
}
my $before = lines_in("$dir/before.tsv");
cmp_ok($before, '<', $events, 'the load was still running at the crash');

$standby->promote;
ok( $standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
	'the standby is promoted');

# the command reconnects to the new primary and finishes the load
ok($load->finish, 'pg_inbox ingest finished the load across the failover')
  or diag("exit status: ", $load->full_result, "\nstdout: $out\nstderr: $err");
# A batch whose commit reached the standby but whose answer was lost with
# the primary is sent again and answered duplicate, under the same ids: the
# summary's inserted may fall short of the keys stored, never exceed them.
my ($ins, $dup, $con) =
  $out =~ /^\s+inserted\s+(\d+)\s.*^\s+duplicate\s+(\d+)\s.*^\s+conflict\s+(\d+)\s/ms;
ok( defined $ins && $ins <= $distinct && $ins + $dup == $events && $con == 0,
	'the summary answers every line inserted or duplicate')
  or diag($out);
cmp_ok(lines_in($answers), '==', $events,
	'every line of the load was answered');

my $new = $standby;
$new->safe_psql(
	'postgres', qq{
	CREATE TABLE before (line int, event_id text, status text, id bigint);
	CREATE TABLE answers (LIKE before);
	\\copy before FROM '$dir/before.tsv'
	\\copy answers FROM '$answers'
});
is($new->safe_psql('postgres', 'SELECT count(*) FROM before'),
	$before, 'the acknowledgements before the crash are loaded');

# every event acknowledged before the crash: there, once, with its id
is( $new->safe_psql(
		'postgres', q{
	SELECT count(*) FROM before b
	WHERE b.status NOT IN ('inserted', 'duplicate')
	   OR (SELECT count(*) FROM inbox.events e
		   WHERE e.source = 'load' AND e.event_id = b.event_id AND e.id = b.id) <> 1}),
	'0',
	'every event acknowledged before the crash is on the new primary once, with its id');

# and every event of the load, once
is( $new->safe_psql(
		'postgres', q{
	SELECT count(*), count(DISTINCT event_id), count(DISTINCT id)
	FROM inbox.events WHERE source = 'load'}),
	"$distinct|$distinct|$distinct",
	'every key of the load is stored exactly once');
is( $new->safe_psql(
		'postgres', q{
	SELECT count(*) FROM answers a
	WHERE NOT EXISTS (SELECT FROM inbox.events e
					  WHERE e.source = 'load' AND e.event_id = a.event_id
						AND e.id = a.id)}),
	'0',
	'every answer of the load names the stored event');
cmp_ok(
	$new->safe_psql(
		'postgres', q{SELECT count(*) FROM answers WHERE line > (SELECT max(line) FROM before)}),
	'>', 0,
	'events were acknowledged by the new primary');

# ingest goes on: redeliveries are duplicates, new keys are inserted with
# ids above every id acknowledged so far
my ($rc, $o, $e);
$rc = IPC::Run::run(
	[
		'pg_inbox', 'ingest', '--source', 'load', '-d', $new->connstr('postgres'),
		$input
	],
	'>', \$o, '2>', \$e);
ok($rc, 'a redelivery of the whole load runs on the new primary') or diag($e);
like($o, qr/^\s+inserted\s+0\s/m, 'nothing of it is inserted again');
like($o, qr/^\s+duplicate\s+$events\s/m, 'all of it is answered duplicate');

is( $new->safe_psql(
		'postgres', q{
	SELECT status, id > (SELECT max(id) FROM answers)
	FROM inbox.ingest('load', 'after-failover', '{"n": 0}')}),
	'inserted|t',
	'a new key is inserted on the new primary, with a new id');

# Asynchronous replication: an acknowledged commit can be lost.  The new
# primary gets a standby of its own; with the standby stopped, a commit is
# acknowledged at once, and a failover to that standby loses it.  With the
# standby synchronous, the same commit waits for it instead.
my $standby2 = streaming_standby($new, 'standby2');
$standby2->start;
$new->wait_for_catchup($standby2);
$standby2->stop;
$new->safe_psql('postgres',
	q{SELECT inbox.ingest('load', 'async-ack', '{}')});
$new->stop('immediate');
$standby2->start;
$standby2->promote;
ok( $standby2->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
	'asynchronous: the second standby is promoted');
is( $standby2->safe_psql(
		'postgres',
		q{SELECT count(*) FROM inbox.events WHERE event_id = 'async-ack'}),
	'0',
	'asynchronous: an event acknowledged while the standby lagged is lost in the failover');

# synchronous: the commit is not acknowledged while the standby is away
$standby2->append_conf('postgresql.conf',
	"synchronous_standby_names = 'nobody_connected'");
$standby2->reload;
my $s = $standby2->background_psql('postgres', on_error_stop => 0);
$s->query_until(qr/^sent$/m, qq{\\echo sent
SELECT 'answer:' || status FROM inbox.ingest('load', 'sync-ack', '{}');
});
ok( $standby2->poll_query_until(
		'postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
		WHERE wait_event = 'SyncRep' AND query LIKE '%sync-ack%'}),
	'synchronous: the commit waits for the standby (wait event SyncRep)');
unlike($s->{stdout}, qr/answer:/, 'synchronous: no acknowledgement meanwhile');
$standby2->safe_psql('postgres',
	q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	  WHERE wait_event = 'SyncRep' AND query LIKE '%sync-ack%'});
$s->quit;

$standby2->stop;
done_testing();
