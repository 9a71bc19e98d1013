namespace OrleansJobs.Workers;

/// <summary>Severity of a message a worker leaves on its job.</summary>
public enum WorkerMessageLevel
{
    /// <summary>For information.</summary>
    Info = 0,

    /// <summary>Something an operator may want to look at; the job goes on.</summary>
    Warning = 1,

    /// <summary>Something went wrong.</summary>
    Error = 2,
}
