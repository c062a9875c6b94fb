# pg_inbox on a hot standby (a streaming replica made with pg_basebackup -R):
# what is answered there, what fails and with which SQLSTATE, and an insert
# that is still in progress on the primary, seen from the standby.
#
#   tools/run-tap test/t/001_standby.pl
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgInbox::Test;
use Test::More;
use IPC::Run;

my $primary = inbox_node('primary', allows_streaming => 1);
$primary->start;
$primary->safe_psql(
	'postgres', q{
	CREATE EXTENSION pg_inbox;
	SELECT inbox.ingest('s', 'e1', '{"a": 1}');
	SELECT inbox.ingest_raw('s', 'r1', '{"b": 2}');
	CREATE TABLE accounts (id int PRIMARY KEY, name text);
	INSERT INTO accounts VALUES (1, 'one');
});

my $standby = streaming_standby($primary, 'standby');
ok(-f $standby->data_dir . '/standby.signal',
	'pg_basebackup -R wrote standby.signal');
$standby->start;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'the standby is in recovery');
is( $standby->safe_psql(
		'postgres', 'SELECT status FROM pg_stat_wal_receiver'),
	'streaming',
	'the standby streams from the primary');

# Answers that write nothing work on the standby.
is( $standby->safe_psql(
		'postgres',
		q{SELECT status, id FROM inbox.ingest('s', 'e1', '{"a": 1}')}),
	'duplicate|1',
	'ingest: a duplicate is answered duplicate');
like(
	$standby->safe_psql(
		'postgres', q{SELECT status, id, detail FROM inbox.ingest('s', 'e1', '{"a": 2}')}
	),
	qr/^conflict\|1\|an event with this source and event id was already stored with a different payload/,
	'ingest: other content is answered conflict');
is( $standby->safe_psql(
		'postgres',
		q{SELECT status, id FROM inbox.ingest_raw('s', 'r1', '{ "b" : 2 }')}),
	'duplicate|2',
	'ingest_raw: a duplicate is answered duplicate');
is( $standby->safe_psql(
		'postgres',
		q{SELECT status, id FROM inbox.ingest_raw('s', 'r1', '{"b": 3}')}),
	'conflict|2',
	'ingest_raw: other content is answered conflict');
like(
	$standby->safe_psql(
		'postgres', q[SELECT status, detail FROM inbox.ingest_raw('s', 'x', '{"b": ')]),
	qr/^rejected\|the body is not valid JSON/,
	'ingest_raw: a malformed body is rejected');
is( $standby->safe_psql(
		'postgres',
		q{SELECT string_agg(status, ',' ORDER BY ord)
		  FROM inbox.ingest_many('s', '{e1,e1}', '{"{\"a\": 1}","{\"a\": 9}"}')}),
	'duplicate,conflict',
	'ingest_many: stored keys are answered');

# A new key needs a write: PostgreSQL's read-only error.
my ($state, $msg) = sqlstate_of($standby, 'postgres',
	q{SELECT * FROM inbox.ingest('s', 'new', '{"a": 1}')});
is($state, '25006', 'ingest: a new key raises read_only_sql_transaction');
like(
	$msg,
	qr/cannot execute inbox\.ingest of a new event in a read-only transaction/,
	'ingest: the message names the new event');
($state) = sqlstate_of($standby, 'postgres',
	q{SELECT * FROM inbox.ingest_raw('s', 'new', '{"a": 1}')});
is($state, '25006', 'ingest_raw: a new key raises 25006');
($state) = sqlstate_of($standby, 'postgres',
	q{SELECT * FROM inbox.ingest_many('s', '{e1,new}', '{"{\"a\": 1}","{}"}')});
is($state, '25006', 'ingest_many: a batch with a new key raises 25006');

# The lifecycle writes: each fails with 25006, whether or not there is
# anything to claim.
($state, $msg) = sqlstate_of($standby, 'postgres',
	q{SELECT * FROM inbox.claim('w')});
is($state, '25006', 'claim raises 25006');
is($msg, 'cannot execute inbox.claim in a read-only transaction',
	'claim: the read-only message');
($state) = sqlstate_of($standby, 'postgres',
	q{SELECT * FROM inbox.claim('w', sources => '{nothing-here}')});
is($state, '25006', 'claim raises 25006 when nothing is claimable too');
($state) = sqlstate_of($standby, 'postgres',
	q{SELECT inbox.complete(1, 'w')});
is($state, '25006', 'complete raises 25006');
($state) = sqlstate_of($standby, 'postgres',
	q{SELECT inbox.fail(1, 'w', 'boom')});
is($state, '25006', 'fail raises 25006');
($state) = sqlstate_of($standby, 'postgres',
	q{SELECT inbox.extend_lease(1, 'w', '1 minute')});
is($state, '25006', 'extend_lease raises 25006');
($state) = sqlstate_of($standby, 'postgres',
	q{SELECT inbox.replay(ARRAY[1]::bigint[])});
is($state, '25006', 'replay raises 25006');
($state) = sqlstate_of($standby, 'postgres',
	q{SELECT inbox.purge('1 day')});
is($state, '25006', 'purge raises 25006');

# Statistics: the event states replicated from the primary, and the
# standby's own counters of what it answered (shared memory of its server).
is( $standby->safe_psql(
		'postgres',
		q{SELECT pending, processing, counters_available
		  FROM inbox.stats WHERE source = 's'}),
	'2|0|t',
	'inbox.stats works on the standby');
# the answers above, counted in the row of sources without an inserted
# answer (the standby inserts nothing); the batch that failed on its new
# key had answered its first key
is( $standby->safe_psql(
		'postgres',
		q{SELECT inserted, duplicate, conflict, rejected
		  FROM inbox.ingest_counters() WHERE source IS NULL}),
	'0|4|3|1',
	'the standby counts the answers it gave');
is($standby->safe_psql('postgres', 'SELECT inbox.reset_stats()'),
	'', 'reset_stats works on the standby (shared memory only)');

# Upsert: unchanged writes nothing and is answered; a change is 25006.
is( $standby->safe_psql(
		'postgres',
		q{SELECT action FROM inbox.upsert('accounts', '{"id": 1, "name": "one"}')}),
	'unchanged',
	'upsert: an unchanged row is answered on the standby');
($state) = sqlstate_of($standby, 'postgres',
	q{SELECT * FROM inbox.upsert('accounts', '{"id": 1, "name": "uno"}')});
is($state, '25006', 'upsert: a change raises 25006');

# The statement guard reports the read-only error as a value.
is( $standby->safe_psql(
		'postgres',
		q{SELECT ok, sqlstate FROM inbox.attempt('INSERT INTO accounts VALUES (2, ''two'')')}),
	'f|25006',
	'attempt: a write is answered with sqlstate 25006');

# An insert in progress on the primary.  Its heap and index entries reach
# the standby before its commit; the standby's probe sees a row of a
# transaction that is still running and waits for that transaction (there
# is no speculative-insertion lock to wait for on a standby), then answers.
#
# $payload: what the standby sends; $end: COMMIT or ROLLBACK on the primary,
# or CANCEL: cancel the standby's call while it waits, then roll back.
# Returns the standby's answer, or its error with SQLSTATE.
sub in_flight
{
	my ($key, $payload, $end) = @_;

	my $writer = $primary->background_psql('postgres', on_error_stop => 0);
	$writer->query_safe(
		qq{BEGIN; SELECT inbox.ingest('s', '$key', '{"n": 1}')});

	# a commit on the primary flushes the WAL before it, the in-flight
	# insert included; then the standby has replayed it
	$primary->safe_psql('postgres',
		qq{SELECT inbox.ingest('s', '$key-flush', '{}')});
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
	is( $standby->safe_psql(
			'postgres',
			qq{SELECT count(*) FROM inbox.events WHERE event_id = '$key'}),
		'0',
		"$key: the standby's snapshot does not see the uncommitted row");

	my $reader = $standby->background_psql('postgres', on_error_stop => 0);
	$reader->query_safe('\set VERBOSITY verbose');
	$reader->query_until(qr/^sent$/m, qq{\\echo sent
SELECT 'answer:' || status || ':' || id FROM inbox.ingest('s', '$key', '$payload');
\\echo done
});

	# the standby's call is running and stays so while the primary's
	# transaction is open
	my $active = qq{SELECT count(*) FROM pg_stat_activity
		WHERE state = 'active' AND query LIKE '%inbox.ingest(''s'', ''$key''%'};
	ok($standby->poll_query_until('postgres', "SELECT ($active) = 1"),
		"$key: the standby's ingest is running");
	sleep(1);
	is($standby->safe_psql('postgres', $active),
		'1', "$key: the standby's ingest waits for the primary's transaction");
	unlike($reader->{stdout}, qr/answer:|done/,
		"$key: no answer while the primary's insert is in flight");

	if ($end eq 'CANCEL')
	{
		$standby->safe_psql('postgres',
			qq{SELECT pg_cancel_backend(pid) FROM pg_stat_activity
			   WHERE state = 'active' AND query LIKE '%inbox.ingest(''s'', ''$key''%'});
		my $t = IPC::Run::timer(10);
		$t->start;
		pump_until($reader->{run}, $t, \$reader->{stdout}, qr/^done$/m);
		ok(!$t->is_expired,
			"$key: the standby's waiting call can be cancelled");
		$end = 'ROLLBACK';
	}
	$writer->query_safe($end);
	$writer->quit;
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

	# the reader prints "done" after its answer or error
	pump_until($reader->{run}, $reader->{timeout}, \$reader->{stdout},
		qr/^done$/m)
	  or diag("reader did not finish: $reader->{stderr}");
	my $out = $reader->{stdout} . $reader->{stderr};
	$reader->quit;
	return $1 if $out =~ /(answer:\S+)/;
	return "$1: $2" if $out =~ /ERROR:\s+([0-9A-Z]{5}):\s*([^\n]*)/;
	return $out;
}

my $id =
  $primary->safe_psql('postgres', q{SELECT last_value + 1 FROM inbox.events_id_seq});
is(in_flight('f1', '{"n": 1}', 'COMMIT'),
	"answer:duplicate:$id",
	'an in-flight insert, committed: the standby answers duplicate');
$id = $primary->safe_psql('postgres', q{SELECT last_value + 1 FROM inbox.events_id_seq});
is(in_flight('f2', '{"n": 2}', 'COMMIT'),
	"answer:conflict:$id",
	'an in-flight insert, committed: other content is answered conflict');
is(in_flight('f3', '{"n": 1}', 'ROLLBACK'),
	'25006: cannot execute inbox.ingest of a new event in a read-only transaction',
	'an in-flight insert, rolled back: the key is new, the read-only error');
is(in_flight('f4', '{"n": 1}', 'CANCEL'),
	'57014: canceling statement due to user request',
	'an in-flight insert: the standby\'s wait ends on cancel');

$standby->stop;
$primary->stop;
done_testing();
