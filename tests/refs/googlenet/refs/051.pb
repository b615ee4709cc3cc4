
BoutputJ(¯sH¼.ÿ­¿Õ÷@åş¡ÀO›À†DAş7h?±ysÀÌU”?ª0íÀ