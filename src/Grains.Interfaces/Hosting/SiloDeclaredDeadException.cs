namespace OrleansJobs.Hosting;

/// <summary>
/// The silo was declared dead by the cluster while it still ran (it was frozen, or cut off): it
/// writes nothing more and leaves. Its jobs continue on the live silos.
/// </summary>
public sealed class SiloDeclaredDeadException : Exception
{
    public SiloDeclaredDeadException()
        : this("this silo was declared dead by the cluster; it writes nothing more and leaves")
    {
    }

    public SiloDeclaredDeadException(string message)
        : base(message)
    {
    }

    public SiloDeclaredDeadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
