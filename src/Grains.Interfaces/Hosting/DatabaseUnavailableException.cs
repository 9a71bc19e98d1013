namespace OrleansJobs.Hosting;

/// <summary>
/// The database could not be reached (or gave up mid-statement) while serving a call: nothing was
/// stored by it. Crosses the wire in place of the driver's exception, which Orleans cannot carry;
/// the API host answers it with 503.
/// </summary>
[GenerateSerializer, Alias("OrleansJobs.DatabaseUnavailableException")]
public sealed class DatabaseUnavailableException : Exception
{
    public DatabaseUnavailableException()
    {
    }

    public DatabaseUnavailableException(string message)
        : base(message)
    {
    }

    public DatabaseUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
