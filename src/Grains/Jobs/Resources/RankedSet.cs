namespace OrleansJobs.Jobs.Resources;

/// <summary>
/// A sorted set that also tells an item's rank, each operation in O(log n) expected time: a treap
/// whose nodes count their subtrees. Items must be distinct under the comparer.
/// </summary>
public sealed class RankedSet<T>(IComparer<T> comparer) where T : notnull
{
    private readonly Random _priorities = new(17); // heap priorities only balance the tree; any sequence will do
    private Node? _root;

    public int Count => Size(_root);

    /// <summary>The first item in order; the set must not be empty.</summary>
    public T Min
    {
        get
        {
            var node = _root ?? throw new InvalidOperationException("the set is empty");
            while (node.Left is not null)
            {
                node = node.Left;
            }

            return node.Item;
        }
    }

    public void Add(T item) => _root = Insert(_root, new Node(item, _priorities.Next()));

    public void Remove(T item) => _root = Delete(_root, item);

    /// <summary>The first <paramref name="count"/> items, in order.</summary>
    public List<T> First(int count)
    {
        var items = new List<T>(Math.Min(count, Count));
        var path = new Stack<Node>();
        var node = _root;
        while (items.Count < count && (node is not null || path.Count > 0))
        {
            while (node is not null)
            {
                path.Push(node);
                node = node.Left;
            }

            node = path.Pop();
            items.Add(node.Item);
            node = node.Right;
        }

        return items;
    }

    /// <summary>How many items come before <paramref name="item"/>, or -1 when it is not in the set.</summary>
    public int RankOf(T item)
    {
        var rank = 0;
        var node = _root;
        while (node is not null)
        {
            var order = comparer.Compare(item, node.Item);
            if (order == 0)
            {
                return rank + Size(node.Left);
            }

            if (order < 0)
            {
                node = node.Left;
            }
            else
            {
                rank += Size(node.Left) + 1;
                node = node.Right;
            }
        }

        return -1;
    }

    private Node Insert(Node? node, Node added)
    {
        if (node is null)
        {
            return added;
        }

        if (comparer.Compare(added.Item, node.Item) < 0)
        {
            node.Left = Insert(node.Left, added);
            if (node.Left.Priority > node.Priority)
            {
                node = RotateRight(node);
            }
        }
        else
        {
            node.Right = Insert(node.Right, added);
            if (node.Right.Priority > node.Priority)
            {
                node = RotateLeft(node);
            }
        }

        node.Update();
        return node;
    }

    private Node? Delete(Node? node, T item)
    {
        if (node is null)
        {
            return null;
        }

        var order = comparer.Compare(item, node.Item);
        if (order < 0)
        {
            node.Left = Delete(node.Left, item);
        }
        else if (order > 0)
        {
            node.Right = Delete(node.Right, item);
        }
        else
        {
            return Merge(node.Left, node.Right);
        }

        node.Update();
        return node;
    }

    private static Node? Merge(Node? left, Node? right)
    {
        if (left is null || right is null)
        {
            return left ?? right;
        }

        if (left.Priority > right.Priority)
        {
            left.Right = Merge(left.Right, right);
            left.Update();
            return left;
        }

        right.Left = Merge(left, right.Left);
        right.Update();
        return right;
    }

    private static Node RotateRight(Node node)
    {
        var left = node.Left!;
        node.Left = left.Right;
        left.Right = node;
        node.Update();
        left.Update();
        return left;
    }

    private static Node RotateLeft(Node node)
    {
        var right = node.Right!;
        node.Right = right.Left;
        right.Left = node;
        node.Update();
        right.Update();
        return right;
    }

    private static int Size(Node? node) => node?.Size ?? 0;

    private sealed class Node(T item, int priority)
    {
        public T Item { get; } = item;

        public int Priority { get; } = priority;

        public Node? Left { get; set; }

        public Node? Right { get; set; }

        public int Size { get; private set; } = 1;

        public void Update() => Size = 1 + RankedSet<T>.Size(Left) + RankedSet<T>.Size(Right);
    }
}
