B6/features/denseblock3/denselayer17/conv1/Conv_output_0J€dM!?
”ž¿Rí@?O“8¿°™D?¾aƒ?ËÝ@>ïŠ]?ù–½0á>Œ1u>‚ÉX?å>¹".?‘ª_?<ø?~´¢¿;bf¿¯{ø>O‡?æVa¾F{9¿©€¾ƒ°?À)@|2½

@Ö@ïC¾f¹3>œ¾„NŒ¿