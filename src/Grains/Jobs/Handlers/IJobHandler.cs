using System.Text.Json;

namespace OrleansJobs.Jobs.Handlers;

/// <summary>
/// A job type's code. One instance runs one attempt of one job, off the grain scheduler, so it
/// may block on I/O or CPU. It resumes after <see cref="IJobContext.Checkpoint"/>, reports each
/// finished item through <see cref="IJobContext.ItemDoneAsync"/> (which checkpoints when due), and
/// must make each item's effect idempotent: after a crash, the items since the last checkpoint
/// run again.
/// </summary>
public interface IJobHandler
{
    /// <summary>Checks a submission's parameters; each error names its field. No errors means valid.</summary>
    IReadOnlyList<JobParameterError> Validate(JsonElement parameters);

    /// <summary>
    /// Does the work. Return when every item is done, or as soon as possible after
    /// <see cref="IJobContext.StopRequested"/> fires (finish the current item first). Throw to fail
    /// the attempt; the job retries from its checkpoint while attempts remain.
    /// </summary>
    Task RunAsync(IJobContext context);
}
