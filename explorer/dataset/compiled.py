"""The compiled loops behind ``kernels`` (imported by ``kernels.load`` only: importing this module imports
Numba, and each function is compiled on its first call or loaded from Numba's cache, ``cache=True``)."""
import numba
import numpy as np


# Both accumulate each pair's values less its first one (float64, exact for float32 values): sums of
# squares about a value near the mean keep their digits where the mean is large against the spread.
@numba.njit(nogil=True, cache=True)
def positions_last(a, s, m2, mx, arg, pos):  # a: N×C×P, positions contiguous (an NCHW output)
    n_, c_, p_ = a.shape
    for n in range(n_):
        for c in range(c_):
            shift = np.float64(a[n, c, 0])
            total, squares, best, where, count = 0.0, 0.0, a[n, c, 0], 0, 0
            for p in range(p_):
                v = a[n, c, p]
                d = np.float64(v) - shift
                total += d
                squares += d * d
                if v > best or (v != v and best == best):  # (a NaN is the maximum, as numpy's)
                    best, where = v, p
                if v > 0:
                    count += 1
            s[n, c] = total + shift * p_
            m2[n, c] = max(squares - total * total / p_, 0.0)
            mx[n, c], arg[n, c], pos[n, c] = best, where, count


@numba.njit(nogil=True, cache=True, fastmath={"contract", "arcp", "nsz"})
def channels_last(a, s, m2, mx, arg, pos):  # a: N×P×C, channels contiguous (a channels-last output)
    # Each channel its own accumulators, updated without branches (selects): the loop over channels
    # vectorises (twice as fast as branching on each value); each accumulator still adds in order. The
    # position and the count in 32 bits (a pair has at most H×W positions): twice the lanes, 1.6x faster.
    n_, p_, c_ = a.shape
    shift, total, squares = np.empty(c_), np.empty(c_), np.empty(c_)
    best, where, count = np.empty(c_, a.dtype), np.empty(c_, np.int32), np.empty(c_, np.int32)
    for n in range(n_):
        row = a[n]
        for c in range(c_):
            shift[c], total[c], squares[c], best[c], where[c], count[c] = row[0, c], 0.0, 0.0, row[0, c], 0, 0
        for p in range(p_):
            here = np.int32(p)
            for c in range(c_):
                v = row[p, c]
                d = np.float64(v) - shift[c]
                total[c] += d
                squares[c] += d * d
                ahead_ = (v > best[c]) | ((v != v) & (best[c] == best[c]))  # (the first NaN, as argmax)
                best[c] = v if ahead_ else best[c]
                where[c] = here if ahead_ else where[c]
                count[c] += np.int32(v > 0)
        for c in range(c_):
            m2[n, c] = max(squares[c] - total[c] * total[c] / p_, 0.0)
            s[n, c] = total[c] + shift[c] * p_
            mx[n, c], arg[n, c], pos[n, c] = best[c], where[c], count[c]


@numba.njit(inline="always")
def ahead(v, u):  # v ranks strictly before u: as a stable argsort of -value (NaN last, ties in order)
    return v > u or (np.isnan(u) and not np.isnan(v))


@numba.njit(nogil=True, cache=True, fastmath={"contract", "arcp", "nsz"})
def combine(s, m2, mx, arg, pos, images, p, w, o_sum, o_m2, o_max, o_pos, t_val, t_img, t_y, t_x):
    """A batch's pairs (N×C) combined per channel in float64 (the sum of the images' m2 and their means'
    spread about the batch's), and each channel's best k' images, ties to the earlier one."""
    n_, c_ = s.shape
    kk = t_val.shape[1]
    for c in range(c_):
        o_sum[c], o_m2[c], o_max[c], o_pos[c] = 0.0, 0.0, mx[0, c], 0
    for n in range(n_):  # (images outer, channels inner: contiguous, vectorised)
        for c in range(c_):
            v = mx[n, c]
            o_sum[c] += s[n, c]
            o_m2[c] += m2[n, c]
            o_pos[c] += pos[n, c]
            o_max[c] = v if (v > o_max[c] or np.isnan(v)) else o_max[c]  # (as numpy's max: a NaN stays)
    for n in range(n_):
        for c in range(c_):
            d = s[n, c] / p - o_sum[c] / (n_ * p)
            o_m2[c] += d * d * p
    col, nan, order = np.empty(n_, mx.dtype), np.empty(n_, np.bool_), np.empty(kk, np.int64)
    for c in range(c_):
        for n in range(n_):
            col[n], nan[n] = mx[n, c], np.isnan(mx[n, c])
        if n_ <= 32:  # each image's rank counted, without branches: the images before it
            for i in range(n_):
                rank = 0
                for j in range(n_):
                    j_ahead = (col[j] > col[i]) | (nan[i] & ~nan[j])
                    i_ahead = (col[i] > col[j]) | (nan[j] & ~nan[i])
                    rank += j_ahead | ((j < i) & ~i_ahead)
                if rank < kk:
                    order[rank] = i
        else:  # by insertion into the best k' so far
            filled = 0
            for n in range(n_):
                j = filled
                while j > 0 and ahead(col[n], col[order[j - 1]]):
                    j -= 1
                if j < kk:
                    for q in range(min(filled, kk - 1), j, -1):
                        order[q] = order[q - 1]
                    order[j] = n
                    filled = min(filled + 1, kk)
        for r in range(kk):
            i = order[r]
            t_val[c, r], t_img[c, r], t_y[c, r], t_x[c, r] = col[i], images[i], arg[i, c] // w, arg[i, c] % w


@numba.njit(nogil=True, cache=True)
def merge_top(va, ia, ya, xa, vb, ib, yb, xb, ov, oi, oy, ox):
    """Two channels' best lists (each best first) merged into the k best, ties to the first list's."""
    c_, ka = va.shape
    kb, k = vb.shape[1], ov.shape[1]
    for c in range(c_):
        i = j = 0
        for r in range(k):
            if j >= kb or (i < ka and not ahead(vb[c, j], va[c, i])):
                ov[c, r], oi[c, r], oy[c, r], ox[c, r] = va[c, i], ia[c, i], ya[c, i], xa[c, i]
                i += 1
            else:
                ov[c, r], oi[c, r], oy[c, r], ox[c, r] = vb[c, j], ib[c, j], yb[c, j], xb[c, j]
                j += 1


__all__ = ["channels_last", "combine", "merge_top", "positions_last"]
