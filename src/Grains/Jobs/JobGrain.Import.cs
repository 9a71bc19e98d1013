using Microsoft.Extensions.Logging;
using OrleansJobs.Jobs.Persistence;

namespace OrleansJobs.Jobs;

/// <summary>A job restored from an archive (<c>docs/archive.md</c>).</summary>
public sealed partial class JobGrain
{
    async Task<JobImportResult> IJobGrain.ImportAsync(ImportedJob job)
    {
        var (archived, error) = ArchivedJobState.Read(JobId, job.StateJson);
        if (archived is null)
        {
            return new JobImportResult(JobImportOutcome.Invalid, error);
        }

        if (job.Journal.Any(e => e.JobId != JobId))
        {
            return new JobImportResult(JobImportOutcome.Invalid, $"journal: every entry must belong to job {JobId}");
        }

        // The archived outbox holds entries its cluster had not written to the journal yet: they are restored with the rest.
        var journal = job.Journal.Concat(archived.Outbox).DistinctBy(e => e.Seq).ToList();
        if (state.State.Exists)
        {
            if (state.State.Version >= archived.Version)
            {
                if (state.State.Version == archived.Version)
                {
                    // The same job: rows an earlier import could not restore after storing the state come now (idempotent).
                    await imports.RestoreAsync(JobId, journal, job.Operations);
                }

                return new JobImportResult(JobImportOutcome.Skipped);
            }

            var status = state.State.Status;
            if (_life.HasLiveRun || state.State.Held.Count > 0 || !(status == JobStatus.Paused || JobTransitions.IsTerminal(status)))
            {
                return new JobImportResult(JobImportOutcome.Conflict, $"job {JobId} is {status} here at version {state.State.Version}, older than the " +
                    $"archive's {archived.Version}, but it runs, waits or holds a resource: stop it first, then import again");
            }

            // The older copy's rows give way to the archive's.
            await purges.DeleteRowsAsync(JobId);
        }

        archived.Outbox.Clear();
        archived.JournalSeq = Math.Max(archived.JournalSeq, journal.Count == 0 ? 0 : journal.Max(e => e.Seq));
        var archivedVersion = archived.Version;
        var pausedOnImport = JobTransitions.IsActive(archived.Status) && archived.Status != JobStatus.Paused;

        state.State = archived;
        _life = NewLifecycle();
        _writer = NewWriter(); // nothing of a previous state's journal counts for this one
        EnableFlush();
        try
        {
            await ApplyAsync(_life.Imported(job.ExportedAt, job.Actor), carryWhenNotStored: false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Not stored: this activation forgets it, and the next reads what is stored; the rows restored are harmless.
            _writer.Discard();
            DeactivateOnIdle();
            throw;
        }

        // The rows go in once the state is stored: rows of a job with no state would be orphans to the state validator.
        await imports.RestoreAsync(JobId, journal, job.Operations);
        LogImported(logger, JobId, archivedVersion, state.State.Status, job.Actor);
        // An imported job is paused or finished: nothing needs its activation, and an import brings many at once.
        DeactivateOnIdle();
        return new JobImportResult(pausedOnImport ? JobImportOutcome.PausedOnImport : JobImportOutcome.Imported);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} imported (archived at version {Version}) as {Status} by {Actor}")]
    private static partial void LogImported(ILogger logger, string jobId, long version, JobStatus status, string actor);
}
