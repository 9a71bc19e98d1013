using OrleansJobs.Jobs.Persistence;
using OrleansJobs.Jobs.Watchdog;
using OrleansJobs.Libraries;
using OrleansJobs.Safeguards;

namespace OrleansJobs.Jobs;

/// <summary>The job's answers to the state validator: each check looks at the job's own state again before it repairs.</summary>
public sealed partial class JobGrain : IValidatedJob
{
    async Task<JobCheck> IValidatedJob.CheckIndexAsync(bool dryRun, TimeSpan settle)
    {
        var row = await index.ReadIndexAsync(JobId);
        var job = state.State;
        if (!job.Exists)
        {
            if (row is not { } orphan)
            {
                return JobCheck.Consistent;
            }

            if (!dryRun)
            {
                await purges.DeleteRowsAsync(JobId);
            }

            return new JobCheck(ValidatorFindings.IndexOrphan, !dryRun,
                $"an index row ({orphan.Status}, version {orphan.Version}) of a job that has no state: deleted with its journal and file operations");
        }

        if (job.Outbox.Count > 0 || _writer.ProjectionsInFlight > 0 || time.GetUtcNow() - job.UpdatedAt < settle
            || row is { } same && same.Status == job.Status.ToString() && same.Version == job.Version)
        {
            return JobCheck.Consistent; // equal, or its projection is on the way (stored since the validator's query, or still queued)
        }

        var (kind, detail) = row is { } shown
            ? (ValidatorFindings.IndexMismatch, $"the index showed {shown.Status} at version {shown.Version}, the state is {job.Status} at version {job.Version}: rewritten from the state")
            : (ValidatorFindings.IndexMissing, $"no index row for a job {job.Status} at version {job.Version}: written from the state");
        if (dryRun)
        {
            return new JobCheck(kind, false, detail);
        }

        await ApplyAsync(_life.ValidatorRepaired(kind, detail));
        // The projection of that write replaces only an older row: a row showing a newer version than the state is replaced here.
        await index.ReplaceIndexRowAsync(JobViews.IndexRow(JobId, state.State, _runs.Current));
        return new JobCheck(kind, true, detail);
    }

    async Task<bool> IValidatedJob.RecoverAsync(string goneSilo)
    {
        // Activating the job was the recovery (the same as the recovery sweep's wake-up); what is left is to journal it.
        if (!_life.TakeRecovered())
        {
            return false;
        }

        LogWoken(logger, JobId, "state validator");
        await ApplyAsync(_life.ValidatorRepaired(ValidatorFindings.JobOnGoneSilo,
            $"left running or waiting on {goneSilo}, which is no longer an active member: recovered on {SiloName}"));
        return true;
    }

    async Task<bool> IValidatedJob.RemoveStaleReminderAsync(bool dryRun)
    {
        if (state.State.WatchedBy is not null || _life.HasLiveRun)
        {
            return false; // it runs or waits: its watchdog is wanted
        }

        var reminder = await this.GetReminder(WatchdogReminder.Name);
        if (reminder is null || dryRun)
        {
            return reminder is not null;
        }

        await this.UnregisterReminder(reminder);
        if (state.State.Exists)
        {
            state.State.WatchdogRegistered = false;
            await ApplyAsync(_life.ValidatorRepaired(ValidatorFindings.StaleReminder,
                $"a watchdog reminder of a job {state.State.Status}, which neither runs nor waits: removed"));
        }

        return true;
    }

    async Task<int?> IValidatedJob.SettleOperationsAsync()
    {
        if (!state.State.Exists || !JobTransitions.IsTerminal(state.State.Status) || _life.HasLiveRun || state.State.LibraryId is not { } library)
        {
            return null;
        }

        var settled = await GrainFactory.GetGrain<ILibraryLockGrain>(library).SettleOperationsAsync(JobId);
        if (settled > 0)
        {
            await ApplyAsync(_life.ValidatorRepaired(ValidatorFindings.OperationsInProgress,
                $"{settled} file operation(s) the job left in progress when it ended: settled by library '{library}' from what the disk shows"));
        }

        return settled;
    }

    async Task IValidatedJob.RecordRepairAsync(string kind, string detail)
    {
        if (state.State.Exists)
        {
            await ApplyAsync(_life.ValidatorRepaired(kind, detail));
        }
    }
}
