//go:build amd64 && !purego

#include "textflag.h"

// func separationsAsm(box *float64, slots *int16, nodes *node, q *float64, d int, n int32, out *float64) int
//
// Per node: for j in 0..d-1, with l = lo[j], h = hi[j], x = q[j]:
//   nr = max(h, x) - min(l, x); sumNew += nr; sumDiff += nr - (h - l)
// stop unless sumNew > 0 and p = sumDiff/sumNew > 0; else out[k++] = p
// and go to the parent (node.parent, int16 at offset 14; -1 ends). The box
// of node n is slot slots[n] of box.
TEXT ·separationsAsm(SB), NOSPLIT, $0-64
	MOVQ box+0(FP), SI
	MOVQ slots+8(FP), R12
	MOVQ nodes+16(FP), DI
	MOVQ q+24(FP), R8
	MOVQ d+32(FP), CX
	MOVLQSX n+40(FP), AX
	MOVQ out+48(FP), R9
	XORQ R10, R10          // k
	MOVQ CX, R11
	SHLQ $4, R11           // bytes per box: 2*d*8
	XORPS X7, X7           // 0

node:
	TESTQ AX, AX
	JS   done
	MOVWQSX (R12)(AX*2), BX // the node's box slot
	IMULQ R11, BX
	ADDQ SI, BX            // lo
	LEAQ (BX)(CX*8), R13   // hi: d*8 bytes on
	XORPS X0, X0           // sumNew
	XORPS X1, X1           // sumDiff
	XORQ DX, DX            // j

dim:
	MOVSD (BX)(DX*8), X2   // l
	MOVSD (R13)(DX*8), X3  // h
	MOVSD (R8)(DX*8), X4   // x
	MOVAPD X3, X5
	MAXSD X4, X5           // h > x ? h : x
	MOVAPD X2, X6
	MINSD X4, X6           // l < x ? l : x
	SUBSD X6, X5           // nr
	ADDSD X5, X0           // sumNew += nr
	SUBSD X2, X3           // h - l
	SUBSD X3, X5           // nr - (h - l)
	ADDSD X5, X1           // sumDiff += ...
	INCQ DX
	CMPQ DX, CX
	JLT  dim

	UCOMISD X7, X0         // sumNew > 0 ?
	JLS  done
	DIVSD X0, X1           // p = sumDiff / sumNew
	UCOMISD X7, X1         // p > 0 ?
	JLS  done
	MOVSD X1, (R9)(R10*8)
	INCQ R10
	SHLQ $4, AX
	MOVWQSX 14(DI)(AX*1), AX // parent
	JMP  node

done:
	MOVQ R10, ret+56(FP)
	RET
