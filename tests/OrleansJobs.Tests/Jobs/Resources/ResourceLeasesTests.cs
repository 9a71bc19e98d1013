using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Tests.Jobs.Resources;

/// <summary>The in-memory holders and queue of a resource: limit, order, positions, checks.</summary>
public sealed class ResourceLeasesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Admit_RespectsTheLimit_AndGrantsByPriorityThenQueueTimeThenArrival()
    {
        var leases = new ResourceLeases { Limit = 2 };
        leases.Enqueue("low-early", 0, T0);
        leases.Enqueue("high", 5, T0.AddSeconds(9));
        leases.Enqueue("low-late", 0, T0.AddSeconds(1));
        leases.Enqueue("low-early-2", 0, T0);

        Assert.Equal(["high", "low-early"], leases.Admit(T0));
        Assert.Equal(new ResourceTicket(false, 2, 2, 1), leases.Ticket("low-early-2"));
        Assert.Equal(new ResourceTicket(false, 2, 2, 2), leases.Ticket("low-late"));
        Assert.Empty(leases.Admit(T0));

        Assert.True(leases.Remove("high"));
        Assert.Equal(["low-early-2"], leases.Admit(T0));
        Assert.Equal(new ResourceTicket(false, 2, 2, 1), leases.Ticket("low-late"));
    }

    [Fact]
    public void Enqueue_Twice_KeepsTheFirstPlace_AndAHolderIsGrantedAgain()
    {
        var leases = new ResourceLeases { Limit = 1 };
        leases.Enqueue("a", 0, T0);
        leases.Admit(T0);
        leases.Enqueue("b", 0, T0.AddSeconds(1));
        leases.Enqueue("c", 0, T0.AddSeconds(2));
        leases.Enqueue("b", 9, T0.AddSeconds(3));
        leases.Enqueue("a", 0, T0);

        Assert.True(leases.Ticket("a").Granted);
        Assert.Equal(1, leases.Ticket("b").Position);
        Assert.Equal(2, leases.WaitingCount);
    }

    [Fact]
    public void Positions_OfTenThousandWaiters_AreTheirRanks()
    {
        var leases = new ResourceLeases { Limit = 0 };
        var random = new Random(3);
        var expected = new List<(string Id, int Priority, int Arrival)>();
        for (var i = 0; i < 10_000; i++)
        {
            var priority = random.Next(-3, 4);
            leases.Enqueue($"j{i}", priority, T0);
            expected.Add(($"j{i}", priority, i));
        }

        for (var i = 0; i < 10_000; i += 7)
        {
            leases.Remove($"j{i}");
        }

        var order = expected.Where(e => int.Parse(e.Id[1..], System.Globalization.CultureInfo.InvariantCulture) % 7 != 0)
            .OrderByDescending(e => e.Priority).ThenBy(e => e.Arrival).Select(e => e.Id).ToList();
        for (var i = 0; i < order.Count; i += 97)
        {
            Assert.Equal(i + 1, leases.Ticket(order[i]).Position);
        }
    }

    [Fact]
    public void HolderChecks_ActOnlyOnHoldersUnchangedSinceTheCheckBegan()
    {
        var leases = new ResourceLeases { Limit = 5 };
        leases.AddHolder("taken-over");
        leases.Enqueue("w", 2, T0);
        leases.Admit(T0);

        var due = leases.HoldersDue(T0.AddMinutes(1), TimeSpan.FromSeconds(30));
        Assert.Equal(2, due.Count);
        var (id, stamp) = due.Single(d => d.JobId == "w");
        leases.Remove("w");
        leases.Enqueue("w", 2, T0);
        leases.Admit(T0.AddMinutes(1));

        Assert.False(leases.HeldSince(id, stamp)); // released and granted again meanwhile
        var current = leases.StampOf("w");
        leases.Confirm("w", T0.AddMinutes(2));
        Assert.False(leases.HeldSince("w", current)); // heard from again: a decline of the older grant is stale
        leases.Requeue("w", T0.AddMinutes(1));
        Assert.Equal(new ResourceTicket(false, 1, 5, 1), leases.Ticket("w", grantHolders: false));
    }
}
