//! The storage suite: every guarantee the `Store` gives, checked with the same test bodies against
//! both backends — a fresh PostgreSQL database and a fresh SQLite file — so a behaviour cannot exist
//! in one backend only. PostgreSQL runs it twice: with its one-statement hot paths and with the
//! transaction spelling SQLite uses, so the two spellings cannot drift apart. Races run real concurrent tasks on a multi-threaded runtime.

#[path = "support/db.rs"]
#[allow(dead_code)]
mod db;
#[path = "storage_suite/mod.rs"]
mod suite;

use suite::harness::TestStore;

/// Generates `on_postgres::NAME`, `on_postgres_with_transactions::NAME` and `on_sqlite::NAME` for
/// every `module::NAME` body.
macro_rules! on_both_backends {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let t = super::TestStore::postgres().await;
                    super::suite::$module::$name(&t).await;
                }
            )*
        }
        /// PostgreSQL again, with the transaction spelling of its one-statement paths.
        mod on_postgres_with_transactions {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let t = super::TestStore::postgres_with_transactions().await;
                    super::suite::$module::$name(&t).await;
                }
            )*
        }
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let t = super::TestStore::sqlite().await;
                    super::suite::$module::$name(&t).await;
                }
            )*
        }
    };
}

on_both_backends!(
    basics::migrating_twice_changes_nothing,
    basics::a_restart_keeps_everything,
    basics::a_setting_is_initialised_once_under_concurrency,
    basics::a_nonce_is_redeemed_once_under_concurrency,
    basics::concurrent_writers_all_land_and_share_commits,
    basics::writers_rolling_back_amid_others_undo_only_their_own_changes,
    basics::per_issuance_lookups_use_an_index,
    basics::expired_nonce_records_are_purged,
    basics::an_abandoned_transaction_leaves_its_connection_clean,
    basics::a_nonce_is_redeemed_with_the_account_read,
    accounts::an_account_round_trips,
    accounts::the_same_key_registers_one_account_under_concurrency,
    accounts::a_single_use_eab_key_binds_one_account_under_concurrency,
    accounts::a_revoked_eab_key_binds_nothing,
    accounts::key_change_detects_stale_and_taken_keys,
    accounts::contact_update_and_deactivation,
    accounts::eab_keys_round_trip_and_revoke,
    accounts::revoking_an_eab_key_stops_its_accounts_unless_kept,
    eab_at_rest::eab_keys_are_sealed_at_rest_and_open_only_with_their_key,
    eab_at_rest::stored_eab_keys_are_encrypted_and_rotated_all_or_nothing,
    orders::an_order_keeps_its_authorizations_in_order,
    orders::reusable_orders_match_profile_and_live_authorizations,
    orders::reusable_authorizations_respect_sub_second_bounds,
    orders::order_pages_follow_creation_order,
    orders::authz_states_come_back_in_the_order_asked,
    validation::one_challenge_of_an_authorization_starts_under_concurrency,
    validation::a_valid_outcome_makes_waiting_orders_ready,
    validation::an_invalid_outcome_fails_waiting_orders,
    validation::an_expired_authorization_ignores_late_outcomes,
    validation::deactivation_fails_waiting_orders,
    validation::concurrent_outcomes_all_land,
    jobs::concurrent_claimers_never_share_a_job,
    jobs::an_expired_lease_is_claimed_again,
    jobs::only_the_holder_renews_a_lease,
    jobs::retry_release_and_drop,
    jobs::a_lost_lease_fences_every_job_write,
    jobs::a_lost_lease_does_not_finish_a_validation,
    jobs::a_claim_skips_the_jobs_this_process_runs,
    jobs::an_enqueued_job_wakes_the_worker,
    issuance::finalize_claims_an_order_once_under_concurrency,
    issuance::finalize_refuses_a_csr_key_that_is_an_account_key,
    issuance::finalize_wakes_the_worker,
    issuance::enrollment_progress_is_recorded,
    issuance::completing_issuance_makes_the_order_valid,
    issuance::first_collect_stores_the_ssl_id_with_the_certificate,
    issuance::failing_issuance_makes_the_order_invalid,
    issuance::revocation_moves_through_its_states,
    issuance::failed_orders_enrollments_are_orphan_candidates_once,
    expiry::expiring_certificates_exclude_renewed_revoked_and_later_ones,
    expiry::the_sweep_is_one_job_rescheduled_with_its_counts,
    retention::old_finished_orders_go_recent_and_unfinished_ones_and_certificates_stay,
    retention::an_authorization_a_newer_order_links_to_stays,
    retention::retention_works_in_batches,
    ari::replacement_is_claimed_once_and_freed_by_an_invalid_order,
    ari::renew_now_marks_and_the_status_sweep,
    ari::the_sweep_job_exists_once_and_only_its_holder_reschedules_it,
    audit::every_committed_change_has_exactly_one_event,
    audit::the_trail_is_searched_and_paged,
    audit::a_rolled_back_change_leaves_no_event,
    audit::the_trail_refuses_update_and_delete,
);
