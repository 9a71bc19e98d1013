using System.Collections.Immutable;
using System.Net;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansJobs.Membership;

namespace OrleansJobs.Tests.Membership;

/// <summary>A silo identity of its own, with a row in the membership table whose status a test sets.</summary>
internal sealed class FakeSilo : ILocalSiloDetails
{
    private static int s_port = 40000;

    public FakeSilo(TestDatabase database)
    {
        Database = database;
        SiloAddress = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, Interlocked.Increment(ref s_port)), 7);
        Row = new SiloMembershipRow(this, Options.Create(new ClusterOptions { ClusterId = ClusterId }));
    }

    public TestDatabase Database { get; }

    public SiloMembershipRow Row { get; }

    public string Name => "fake";

    public string ClusterId { get; } = $"fence-{Guid.NewGuid():N}"[..20];

    public string DnsHostName => "localhost";

    public SiloAddress SiloAddress { get; }

    public SiloAddress GatewayAddress => SiloAddress;

    /// <summary>Writes the silo's membership row (creating it and its cluster's version row the first time).</summary>
    public async Task SetStatusAsync(SiloStatus status)
    {
        await Database.ExecuteAsync(
            "INSERT INTO orleansmembershipversiontable (deploymentid) VALUES (@c) ON CONFLICT DO NOTHING", ("c", ClusterId));
        await Database.ExecuteAsync(
            """
            INSERT INTO orleansmembershiptable (deploymentid, address, port, generation, siloname, hostname, status, starttime, iamalivetime)
            VALUES (@c, @a, @p, @g, 'fake', 'localhost', @s, now(), now())
            ON CONFLICT (deploymentid, address, port, generation) DO UPDATE SET status = excluded.status
            """,
            ("c", ClusterId), ("a", SiloAddress.Endpoint.Address.ToString()), ("p", SiloAddress.Endpoint.Port),
            ("g", SiloAddress.Generation), ("s", (int)status));
    }
}

/// <summary>Membership as a silo would see it, minus the cluster: the snapshot says nothing, refreshes are counted.</summary>
internal sealed class QuietMembership : IClusterMembershipService
{
    private int _refreshes;

    public int Refreshes => Volatile.Read(ref _refreshes);

    public ClusterMembershipSnapshot CurrentSnapshot { get; } = new(ImmutableDictionary<SiloAddress, ClusterMember>.Empty, new MembershipVersion(1));

    public IAsyncEnumerable<ClusterMembershipSnapshot> MembershipUpdates => throw new NotSupportedException();

    public ValueTask Refresh(MembershipVersion minimumVersion = default, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _refreshes);
        return ValueTask.CompletedTask;
    }

    public Task<bool> TryKill(SiloAddress siloAddress) => throw new NotSupportedException();
}
