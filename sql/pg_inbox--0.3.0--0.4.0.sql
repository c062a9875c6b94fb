/* pg_inbox 0.3.0 -> 0.4.0 */

-- complain if the script is sourced in psql rather than run by ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_inbox UPDATE TO '0.4.0'" to load this file. \quit
