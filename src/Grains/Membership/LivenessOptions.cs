namespace OrleansJobs.Membership;

/// <summary>How a silo proves that it is alive and learns that it is not (configuration section <c>Liveness</c>).</summary>
public sealed class LivenessOptions
{
    public const string SectionName = "Liveness";

    /// <summary>
    /// Declare a member dead as soon as its silo endpoint refuses connections: the host answered
    /// for the port, so no process listens on it any more. Timeouts are never taken as proof.
    /// </summary>
    public bool DeclareRefusingSilosDead { get; set; } = true;

    /// <summary>How often a silo reads its own membership row to learn whether it was declared dead.</summary>
    public TimeSpan ConfirmInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How long a confirmation that this silo is alive counts. A run waits at its next item boundary
    /// while the last one is older (the silo was frozen, or starved), and goes on once a fresh one says
    /// the silo is still a member. Keep it well below the time the cluster needs to declare an
    /// unresponsive silo dead (about <c>Membership:ProbeTimeout</c> × <c>NumMissedProbesLimit</c>):
    /// a silo frozen longer than that then always checks before it executes anything.
    /// </summary>
    public TimeSpan ConfirmWindow { get; set; } = TimeSpan.FromSeconds(2);
}
