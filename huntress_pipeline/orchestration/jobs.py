"""Jobs the schedules and sensors launch."""

from dagster import AssetSelection, define_asset_job, in_process_executor


huntress_incident_job = define_asset_job(
    "huntress_incident_job",
    selection=AssetSelection.assets("huntress_incidents", "incident_plans", "psa_tickets"),
    description="Walk, plan and write one tenant's incidents for one day (today: from the cursor).",
    # The steps run one after the other anyway; one process per run instead of one per step
    # keeps an idle tick cheap (Dagster's import cost is paid once).
    executor_def=in_process_executor,
)

huntress_directory_job = define_asset_job(
    "huntress_directory_job",
    selection=AssetSelection.assets("huntress_organizations", "huntress_agents"),
    description="Sync one tenant's organizations (with auto-match) and agents snapshot.",
    executor_def=in_process_executor,
)

huntress_reports_job = define_asset_job(
    "huntress_reports_job",
    selection=AssetSelection.assets("incident_daily_summary", "incident_time_to_close", "unmapped_incidents"),
    description="Refresh one tenant's reports from the incident history.",
    executor_def=in_process_executor,
)
