namespace OrleansJobs.Jobs;

/// <summary>
/// Sets of statuses as SQL literal lists for queries on <c>job_index.status</c>: one definition
/// for the silo's and the host's queries. Literals, not parameters, so that the partial indexes of
/// the schema (script 0009) match the queries' predicates.
/// </summary>
public static class JobStatusSql
{
    /// <summary>A run is under way: Running, or finishing its item on the way to Cancelled or Paused.</summary>
    public const string Running = "'Running', 'Cancelling', 'Pausing'";

    /// <summary>Not ended: waiting, running or paused.</summary>
    public const string Active = "'Queued', " + Running + ", 'Paused'";

    /// <summary>Ended: what retention and purges may delete (matches the partial index on finished jobs).</summary>
    public const string Terminal = "'Cancelled', 'Completed', 'Failed', 'Killed'";
}
