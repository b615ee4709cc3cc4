B6/features/denseblock3/denselayer13/conv2/Conv_output_0J Hš¾í½'Ó>
bN?ˆ%Ø¾$ñ>¬
¾Zèb¿